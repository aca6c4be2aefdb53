from perfsage.cli.main import run

run()
