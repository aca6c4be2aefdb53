"""Search with the proxy: a gym over a space's designs, a cost model (proxy or simulator) and agents."""
