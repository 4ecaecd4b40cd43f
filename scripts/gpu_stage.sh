#!/usr/bin/env bash
# The prepared GPU stage of the training recipe (weights/README.md, "A GPU stage, prepared"): fine-tune
# dfd-lite0-multi on a training pack (`dfd pack`) on a CUDA machine, then copy the weights, card and
# log to RESULTS. Run from the repository root:
#   scripts/gpu_stage.sh PACK_DIR RESULTS_DIR [TIME_LIMIT_S]
# (DEVICE, EPOCHS and SAMPLES override cuda, 6 and the measured samples per epoch, for a trial elsewhere)
# The machine needs python3 with torch, timm, opencv, pillow (WebP), pandas, pyyaml, scikit-learn;
# not PyAV (the stage trains with --no-h264) nor facenet-pytorch (the pack carries the landmarks).
# Afterwards, on any machine with the original data: calibrate and measure on the full spec with
#   dfd train weights/dfd-lite0-multi.spec.yaml --epochs 0 --crop-inside --init-from RESULTS_DIR/dfd-lite0-gpu.json ...
set -uo pipefail
pack=$1 results=$2 limit=${3:-470}
mkdir -p "$results"
export PYTHONUNBUFFERED=1 PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
# Loader workers hand batches over in shared memory: a small /dev/shm stops them (best effort).
mount -o remount,size=16G /dev/shm 2>/dev/null || true
{ nvidia-smi -L; nproc; df -h /dev/shm | tail -1
  python3 -c 'import torch, timm, cv2, PIL, numpy; print(torch.__version__, timm.__version__, cv2.__version__, PIL.__version__, numpy.__version__)'
} 2>&1 | tee "$results/machine.txt"
run=$(mktemp -d)
workers=$(( $(nproc) - 1 ))
# Size the epochs to the time: measure how many augmented samples per second the loader makes here
# (the GPU is never the bottleneck for this network), then fill about TRAIN_S seconds, at most
# 6 x 80,000 samples.
samples=${SAMPLES:-$(python3 - "$pack" "$workers" "${TRAIN_S:-380}" <<'PY' 2>>"$results/machine.txt" | tail -1
import sys, time
import numpy as np, torch
from dfd_lib.training.dataset import CropDataset, epoch_samples_multi
from dfd_lib.training.multi import _pools, prepare_sources
from dfd_lib.training.spec import load_spec, read_spec
from dfd_lib.training.train import _one_thread_worker
spec = read_spec(f"{sys.argv[1]}/spec.yaml")
table, lm, _ = prepare_sources(spec, f"{sys.argv[1]}/landmarks", load_spec(spec))
pools = _pools(spec, table[table.role == "train"], lm)
ds = CropDataset("/", epoch_samples_multi(pools, 128 * 400, spec.sbi_share, np.random.default_rng(9)), 160,
                 (0.5,) * 3, (0.5,) * 3, train=True, landmarks=lm, h264=False)
loader = torch.utils.data.DataLoader(ds, batch_size=128, num_workers=int(sys.argv[2]), worker_init_fn=_one_thread_worker)
it, n = iter(loader), 0
next(it); t0 = time.time()
while time.time() - t0 < 20:
    n += len(next(it)[0])
rate = n / (time.time() - t0)
per_epoch = int(min(80_000, max(32_000, rate * float(sys.argv[3]) / 6)) // 128 * 128)
print(f"loader: {rate:.0f} samples/s with {sys.argv[2]} workers -> {per_epoch} samples per epoch", file=sys.stderr)
print(per_epoch)
PY
)}
echo "samples per epoch: $samples" | tee -a "$results/machine.txt"
timeout "$limit" python3 -m dfd_lib train "$pack/spec.yaml" --out "$run" --name dfd-lite0-gpu \
  --init-from weights/dfd-lite0-multi.json --landmarks "$pack/landmarks" --no-h264 --crop-inside --inside-share 0.5 --device "${DEVICE:-cuda}" \
  --epochs "${EPOCHS:-6}" --samples-per-epoch "$samples" --batch-size 128 --lr 4e-4 --seed 2 --workers "$workers" \
  --monitor-size 400 2>&1 | tr '\r' '\n' | awk '!/(batch|file)\/s[],]/ || /100%/' | tee "$results/train.log"
echo "train exit status ${PIPESTATUS[0]}" | tee -a "$results/train.log"
ls -la "$run" | tee -a "$results/train.log"
for f in dfd-lite0-gpu.pt dfd-lite0-gpu.json history.json; do cp "$run/$f" "$results/" 2>/dev/null; done
if [ ! -f "$results/dfd-lite0-gpu.pt" ] && [ -f "$run/checkpoint_last.pt" ]; then
  # stopped before the end: keep the last finished epoch's weights (without optimiser state)
  python3 -c "import sys, torch; s = torch.load(sys.argv[1], weights_only=True); torch.save(s['model'], sys.argv[2]); print('epochs done', s['epoch'])" \
    "$run/checkpoint_last.pt" "$results/model_state.pt" | tee -a "$results/train.log"
fi
