# DeepImagine on NVIDIA GPUs: CUDA + the project with its GPU extra (vLLM), `dvc repro` by default.
#
#   docker build -t deepimagine .
#   docker run --gpus all --ipc=host -v "$PWD":/workspace -v "$HOME/.cache/huggingface":/root/.cache/huggingface \
#       deepimagine                                   # = dvc repro, on the mounted repository
#   docker run --gpus all --ipc=host -v "$PWD":/workspace deepimagine \
#       sh -c "deepimagine profile profiles/real.yaml | xargs dvc exp run"   # the real-scale profile
#
# Mounting the repository keeps data/, models/, metrics/ and the DVC cache on the host (and the
# editable install then runs the mounted code). Without a mount the image runs its own copy.
FROM nvidia/cuda:12.8.1-cudnn-devel-ubuntu24.04

ENV DEBIAN_FRONTEND=noninteractive \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    VIRTUAL_ENV=/opt/venv \
    PATH=/opt/venv/bin:$PATH \
    HF_HOME=/root/.cache/huggingface

RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 python3-venv python3-dev git build-essential ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && python3 -m venv "$VIRTUAL_ENV" \
 && pip install --upgrade pip

WORKDIR /workspace

# Dependencies first (cached while only the code changes): install the project's requirements
# from pyproject.toml with an empty package, then the real sources.
COPY pyproject.toml README.md ./
RUN mkdir -p src/deepimagine && touch src/deepimagine/__init__.py \
 && pip install ".[gpu,s3,dev]" \
 && pip uninstall -y deepimagine

COPY . .
RUN pip install --no-deps -e . \
 && git config --global --add safe.directory /workspace \
 && deepimagine check-params

CMD ["dvc", "repro"]
