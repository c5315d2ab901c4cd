#!/usr/bin/env python3
"""Writes tests/data/torchscript_tuple1_crash.pt: a TorchScript archive (a stored zip, as
torch.jit.save writes) whose data.pkl is a TUPLE1 opcode on an empty unpickler stack. LibTorch
1.13's torch::jit::load dereferences the empty stack: SIGSEGV. The tests check that twinrt
contains that crash (the probe process) instead of dying of it."""
import pathlib
import zipfile

out = pathlib.Path(__file__).with_name("torchscript_tuple1_crash.pt")
with zipfile.ZipFile(out, "w", zipfile.ZIP_STORED) as z:
    for name, data in [("archive/data.pkl", b"\x80\x02\x85."),       # PROTO 2, TUPLE1, STOP
                       ("archive/constants.pkl", b"\x80\x02)."),      # PROTO 2, EMPTY_TUPLE, STOP
                       ("archive/version", b"3\n")]:
        info = zipfile.ZipInfo(name, date_time=(2026, 1, 1, 0, 0, 0))  # fixed: the same bytes every time
        z.writestr(info, data)
print(out, out.stat().st_size, "bytes")
