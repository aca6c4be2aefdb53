"""The host fingerprint: what names a CPU kind, from /proc/cpuinfo texts of several machines."""

from __future__ import annotations

from perfsage.targets.host import HostFingerprint, fingerprint_from, this_host

ZEN3 = """processor	: 0
vendor_id	: AuthenticAMD
cpu family	: 25
model		: 1
model name	: AMD EPYC
flags		: fpu sse sse2 sse4_1 sse4_2 avx avx2 fma f16c sha_ni vaes

processor	: 1
vendor_id	: AuthenticAMD
"""
GENOA = ZEN3.replace("model\t\t: 1", "model\t\t: 17").replace(
    "vaes", "vaes avx512f avx512bw avx512vl avx512dq avx512_vnni avx512_bf16")
NEOVERSE_V1 = """processor	: 0
BogoMIPS	: 2100.00
Features	: fp asimd evtstrm aes pmull sha1 sha2 crc32 atomics fphp asimdhp cpuid asimdrdm asimddp sve i8mm bf16
CPU implementer	: 0x41
CPU architecture: 8
CPU part	: 0xd40
"""


def test_kind_is_family_model_and_kernel_isa_not_the_name():
    zen3 = fingerprint_from(ZEN3, "x86_64", 2, "2.3.0")
    genoa = fingerprint_from(GENOA, "x86_64", 16, "2.3.0")
    assert zen3.model_name == genoa.model_name == "AMD EPYC"  # a hypervisor's generic name
    assert zen3.isa == ("avx", "avx2", "f16c", "fma", "sse4_1")  # sha_ni, vaes change no kernel
    assert zen3.key != genoa.key
    diff = {d["field"]: d for d in genoa.differences(zen3)}
    assert set(diff) == {"family_model", "isa"}
    assert diff["isa"]["only_here"] == ["avx512_bf16", "avx512_vnni", "avx512bw", "avx512dq", "avx512f",
                                        "avx512vl"]
    assert diff["family_model"] == {"field": "family_model", "here": "25/17", "there": "25/1"}
    # cores only inform: labels are single-threaded
    assert fingerprint_from(ZEN3, "x86_64", 64, "2.3.0").key == zen3.key
    # a LiteRT release changes kernels
    assert fingerprint_from(ZEN3, "x86_64", 2, "2.4.0").differences(zen3) == [
        {"field": "litert", "here": "2.4.0", "there": "2.3.0"}]


def test_arm_and_round_trip():
    v1 = fingerprint_from(NEOVERSE_V1, "aarch64", 4, "2.3.0")
    assert v1.vendor == "0x41" and v1.family_model == "0x41/0xd40"
    assert {"asimddp", "i8mm", "sve", "bf16"} <= set(v1.isa)
    assert "sve" in v1.describe() or "i8mm" in v1.describe()
    again = HostFingerprint.from_dict(v1.to_dict())
    assert again == v1 and again.key == v1.key and not again.differences(v1)


def test_this_host_is_read():
    h = this_host()
    assert h.arch and h.cores >= 1 and len(h.key) == 12


def test_a_cpu_prediction_says_which_cpu_and_withholds_intervals_it_cannot_vouch_for(tmp_path, monkeypatch):
    """The shipped cpu-litert predictor's labels predate fingerprints: on any host the check cannot confirm
    the CPU kind, says so and gives no interval. A complete record of this host's kind gives intervals back;
    another kind is named with what differs. NPU targets carry no host check."""
    import shutil

    import perfsage.predict.predictor as predictor_mod
    from perfsage.model.shipped import predictor_dir
    from perfsage.predict import Predictor
    from perfsage.targets.host import HostRecord

    model = "tests/fixtures/tf/dscnn_kws_int8.tflite"
    shipped = Predictor.load("cpu-litert")
    assert shipped.host is not None and shipped.host.mismatch is None
    rec = shipped.predict(model, layers=False).to_dict(layers=False)
    assert rec["host"]["mismatch"] is None and "not fully recorded" in rec["host"]["summary"]
    assert all(v["low"] is None and v["high"] is None for v in rec["metrics"].values())
    assert Predictor.load("ethos-u55-128").predict(model, layers=False).host is None

    zen3, genoa = fingerprint_from(ZEN3, "x86_64", 2, "2.3.0"), fingerprint_from(GENOA, "x86_64", 16, "2.3.0")
    monkeypatch.setattr(predictor_mod, "this_host", lambda: zen3)
    folder = tmp_path / "cpu-litert"
    shutil.copytree(predictor_dir("cpu-litert"), folder)
    HostRecord(zen3).save(folder)
    same = Predictor.load(folder).predict(model, layers=False).to_dict(layers=False)
    assert same["host"]["mismatch"] is False and same["target"] == "cpu-litert"
    assert all(v["low"] < v["value"] < v["high"] for v in same["metrics"].values())
    HostRecord(genoa).save(folder)
    other = Predictor.load(folder).predict(model, layers=False).to_dict(layers=False)
    assert other["host"]["mismatch"] is True and "avx512f" in other["host"]["summary"]
    assert {d["field"] for d in other["host"]["differs"]} == {"family_model", "isa"}
    assert all(v["low"] is None for v in other["metrics"].values())
    assert other["metrics"]["latency_ms"]["value"] == same["metrics"]["latency_ms"]["value"]


def test_record_from_provenance():
    from perfsage.targets.host import record_from_provenance

    zen3 = fingerprint_from(ZEN3, "x86_64", 2, "2.3.0")
    genoa = fingerprint_from(GENOA, "x86_64", 16, "2.3.0")
    one = record_from_provenance([{"host_fingerprint": zen3.to_dict()}] * 3)
    assert one.complete and one.fingerprint.key == zen3.key
    mixed = record_from_provenance([{"host_fingerprint": zen3.to_dict()}, {"host_fingerprint": genoa.to_dict()}])
    assert not mixed.complete and "2 CPU kinds" in mixed.note
    old = record_from_provenance([{"cpu": "AMD EPYC", "version": "2.3.0"}] * 2)
    assert not old.complete and old.fingerprint.model_name == "AMD EPYC" and old.fingerprint.litert == "2.3.0"
