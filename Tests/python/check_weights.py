#!/usr/bin/env python3
"""The Python side of the safetensors bridge tests (Tests/BettyNNTests/PythonWeightsTests.swift,
Tests/BettyTests/CheckpointPythonTests.swift). Every mode works in DIR and prints what it did.

    python check_weights.py export DIR FILE.safetensors ...
        reads each file with safetensors.numpy.load_file and writes every tensor as
        DIR/<file stem>/<tensor name>.npy, so the Swift test compares them bit for bit with what
        it wrote.
    python check_weights.py mlp DIR
        writes a state dict for an MLP 4 -> 8 -> 3 (relu) under PyTorch's names with
        safetensors.numpy.save_file, in float32 (mlp_f32), float16 (mlp_f16) and float64
        (mlp_f64), an input x.npy [5, 4], and the logits numpy computes from each state dict
        (logits_f32.npy ...), in float64, from the values as stored.
    python check_weights.py torch-write DIR
        when torch imports: a torch.nn.Sequential(Linear(4, 8), BatchNorm1d(8), ReLU(),
        Linear(8, 3)) after a training batch (so the running statistics moved), in eval mode;
        writes its state_dict with safetensors.torch.save_file (torch.safetensors), an input
        torch_x.npy and its logits torch_logits.npy.
    python check_weights.py torch-read DIR
        loads DIR/ours.safetensors (written by Module.saveWeights) into the same architecture with
        load_state_dict(strict=True) and writes its eval-mode logits on torch_x.npy as
        torch_logits_of_ours.npy.

Exits 3 when torch cannot be imported (the Swift test then says the torch check was skipped).
"""
import os
import sys

import numpy as np
from safetensors.numpy import load_file, save_file


def export(directory, files):
    for path in files:
        stem = os.path.splitext(os.path.basename(path))[0]
        out = os.path.join(directory, stem)
        os.makedirs(out, exist_ok=True)
        tensors = load_file(path)
        for name, array in tensors.items():
            np.save(os.path.join(out, name + ".npy"), array)
        listed = ", ".join(f"{n} {a.dtype} {list(a.shape)}" for n, a in sorted(tensors.items()))
        print(f"{stem}: {len(tensors)} tensors read by safetensors.numpy.load_file: {listed}")


def mlp(directory):
    rng = np.random.default_rng(7)
    base = {
        "0.weight": rng.standard_normal((8, 4)),
        "0.bias": rng.standard_normal(8),
        "2.weight": rng.standard_normal((3, 8)),
        "2.bias": rng.standard_normal(3),
    }
    x = rng.standard_normal((5, 4)).astype(np.float32)
    np.save(os.path.join(directory, "x.npy"), x)
    for kind, dtype in [("f32", np.float32), ("f16", np.float16), ("f64", np.float64)]:
        state = {name: value.astype(dtype) for name, value in base.items()}
        save_file(state, os.path.join(directory, f"mlp_{kind}.safetensors"), metadata={"format": "pt"})
        w = {name: value.astype(np.float64) for name, value in state.items()}
        hidden = np.maximum(x.astype(np.float64) @ w["0.weight"].T + w["0.bias"], 0)
        logits = hidden @ w["2.weight"].T + w["2.bias"]
        np.save(os.path.join(directory, f"logits_{kind}.npy"), logits)
        print(f"mlp_{kind}: {', '.join(sorted(state))} written by safetensors.numpy.save_file; logits {list(logits.shape)}")


def torch_model():
    import torch
    return torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.BatchNorm1d(8), torch.nn.ReLU(), torch.nn.Linear(8, 3))


def torch_write(directory):
    import torch
    from safetensors.torch import save_file as save_torch
    torch.manual_seed(0)
    model = torch_model()
    model.train()
    model(torch.randn(16, 4))
    model.eval()
    x = torch.randn(5, 4)
    save_torch(model.state_dict(), os.path.join(directory, "torch.safetensors"))
    np.save(os.path.join(directory, "torch_x.npy"), x.numpy())
    with torch.no_grad():
        np.save(os.path.join(directory, "torch_logits.npy"), model(x).numpy())
    names = ", ".join(f"{n} {str(t.dtype).replace('torch.', '')}" for n, t in model.state_dict().items())
    print(f"torch {torch.__version__}: state_dict of nn.Sequential written by safetensors.torch.save_file: {names}")


def torch_read(directory):
    import torch
    from safetensors.torch import load_file as load_torch
    model = torch_model()
    result = model.load_state_dict(load_torch(os.path.join(directory, "ours.safetensors")), strict=True)
    model.eval()
    x = torch.from_numpy(np.load(os.path.join(directory, "torch_x.npy")))
    with torch.no_grad():
        np.save(os.path.join(directory, "torch_logits_of_ours.npy"), model(x).numpy())
    print(f"torch {torch.__version__}: load_state_dict(safetensors.torch.load_file(ours.safetensors), strict=True): {result}")


def main():
    if len(sys.argv) < 3:
        print(__doc__)
        return 2
    mode, directory = sys.argv[1], sys.argv[2]
    if mode.startswith("torch"):
        try:
            import torch  # noqa: F401
        except Exception as error:  # any failure to import is a reason to skip
            print(f"torch cannot be imported: {error}")
            return 3
    if mode == "export":
        export(directory, sys.argv[3:])
    elif mode == "mlp":
        mlp(directory)
    elif mode == "torch-write":
        torch_write(directory)
    elif mode == "torch-read":
        torch_read(directory)
    else:
        print(f"unknown mode {mode}")
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
