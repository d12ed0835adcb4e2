#!/usr/bin/env bash
# One GPU check in one call (benchmarks/device.py): TV-L1 flow and pretraining throughput,
# written to $OUT/device.json. Run from anywhere; it works from the repository root.
#
#   bash benchmarks/device.sh                                   # GPU machine
#   bash benchmarks/device.sh --cpu --tiny --out device.json    # the same code path on CPU, in seconds
#
# A bare GPU machine has no OpenCV and no package registry, and the loader-fed number needs
# OpenCV (frame containers hold JPEG). Wheels found in .whl/ are installed into a temporary
# folder first; fetch them beforehand on a machine with a registry, at the version pyproject.toml
# pins:
#
#   pip download --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
#       --platform manylinux2014_x86_64 -d .whl opencv-contrib-python-headless==5.0.0.93
#
# PYTHON chooses the interpreter (default python3); the repository need not be installed.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
if compgen -G ".whl/*.whl" > /dev/null; then
    site=$(mktemp -d)
    # without them only the loader-fed number is lost: go on
    if "$PYTHON" -m pip install --quiet --no-index --no-deps --target "$site" .whl/*.whl; then
        export PYTHONPATH="$site${PYTHONPATH:+:$PYTHONPATH}"
    else
        echo "device.sh: could not install the wheels in .whl/; going on without them" >&2
    fi
fi
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
exec "$PYTHON" benchmarks/device.py "$@"
