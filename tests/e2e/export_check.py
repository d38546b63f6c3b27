"""Checks an export against fedchain's own logits (tests/e2e/export_e2e.sh).

    export_check.py PYTHON_DIR EXPORT_FILE PREDICTIONS_H5 DATASET_H5

Loads EXPORT_FILE with python/fedchain_torch.py, runs it on the first N test images of
DATASET_H5 (N: the predictions' count) and compares the logits with the ones `fedchain
predict` wrote (within 1e-4); the state_dict keys must be the exported names, and the
metadata must name the height and state root the predictions file names.
"""
import sys

import h5py
import numpy as np
import torch

sys.path.insert(0, sys.argv[1])
import fedchain_torch  # noqa: E402

export_path, predictions_path, dataset_path = sys.argv[2:5]
tensors, metadata = fedchain_torch.read_export(export_path)
model = fedchain_torch.load(export_path)
keys = list(model.state_dict().keys())
if sorted(keys) != sorted(tensors):
    sys.exit(f"state_dict keys {keys} are not the exported names {sorted(tensors)}")
with h5py.File(predictions_path, "r") as f:
    expected = f["logits"][...]
    attrs = {k: (v.decode() if isinstance(v, bytes) else str(v)) for k, v in f.attrs.items()}
for key in ("height", "state_root", "chain_id"):
    if metadata[key] != attrs[key]:
        sys.exit(f"export {key} {metadata[key]} is not the predictions' {attrs[key]}")
with h5py.File(dataset_path, "r") as f:
    images = f["test/images"][: expected.shape[0]]
torch.set_num_threads(1)
with torch.no_grad():
    logits = model(fedchain_torch.prepare(model, images)).numpy()
worst = float(np.max(np.abs(logits - expected)))
agree = float(np.mean(np.argmax(logits, 1) == np.argmax(expected, 1)))
print(f"{export_path}: {metadata['architecture']['arch']}, {len(keys)} tensors, "
      f"{expected.shape[0]} samples: largest logit difference {worst:.2e}, classes agree {agree:.3f}")
if not worst <= 1e-4:
    sys.exit(f"logits differ from fedchain's by {worst} (> 1e-4)")
