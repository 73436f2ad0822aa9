#!/usr/bin/env bash
# GPU check and timing, for a CUDA machine: the CUDA tests (SFT and GRPO steps in bf16, transformers
# generation and likelihood scoring on the GPU against the CPU, the vLLM backend when the gpu extra
# is installed), then the default `sft` (with its per-factor operators) and `rl` stages timed on the
# GPU, then imagining (sft/imagine, one engine with every operator adapter) on CUDA against the CPU.
#
#   dvc repro traces base          # (on any machine) the stage inputs: data/pairs, data/traces, models/base
#                                  # (carry data/pairs, data/traces, models/base: together well under 64 MiB)
#   bash benchmarks/gpu_stages.sh  # prints the device, the test summary and each stage's wall time
#
# Runs from the repository root with the project importable (installed, or PYTHONPATH=src).
set -uo pipefail
export PYTHONPATH="src:tests:${PYTHONPATH:-}" PYTHONUNBUFFERED=1
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 HF_DATASETS_OFFLINE=1 TOKENIZERS_PARALLELISM=false
PY=${PYTHON:-python3}
LOG=${OUT:-/tmp}/gpu_stages

mkdir -p "$LOG"
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
$PY -c "import torch, transformers, trl, peft; print('torch', torch.__version__, 'transformers', transformers.__version__, 'trl', trl.__version__, 'peft', peft.__version__, 'cuda', torch.cuda.is_available())"
$PY -c "import vllm; print('vllm', vllm.__version__)" 2>/dev/null || echo "vllm: not installed (its tests skip)"

$PY -m pytest -q -m gpu tests/test_gpu.py tests/test_generate.py -p no:cacheprovider -o addopts="-ra" 2>&1 | tee "$LOG/pytest.txt"
tests_rc=${PIPESTATUS[0]}

for stage in sft rl; do
  start=$EPOCHREALTIME
  $PY -m deepimagine.cli "$stage" > "$LOG/$stage.txt" 2>&1
  rc=$?
  end=$EPOCHREALTIME
  awk -v s="$start" -v e="$end" -v n="$stage" -v r="$rc" 'BEGIN{printf "stage %s: rc=%s wall=%.1fs\n", n, r, e - s}'
  grep -E "done in|GRPO done|SFT done|Error|error" "$LOG/$stage.txt" | tail -3
  [ -f "models/$stage/train_info.json" ] && cp "models/$stage/train_info.json" "$LOG/${stage}_train_info.json"
done
# imagining on CUDA vs CPU: same probabilities (float tolerance), steps per second on each
CUDA_VISIBLE_DEVICES= $PY benchmarks/imagine_device.py --n 60 --out "$LOG/imagine_cpu.json" 2>&1 | grep -E "^device|max"
$PY benchmarks/imagine_device.py --n 60 --out "$LOG/imagine_cuda.json" --compare "$LOG/imagine_cpu.json" 2>&1 | grep -E "^device|max"
exit "$tests_rc"
