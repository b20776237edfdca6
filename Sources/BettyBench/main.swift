import BettyTensor
print("BettyBench: not yet")
