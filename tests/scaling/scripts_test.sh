#!/usr/bin/env bash
# Runs scripts_test.py with Debian's /usr/bin/python3, which the scaling scripts use; skips
# (exit 77) where it or one of its packages is missing, saying which.
set -euo pipefail
python=/usr/bin/python3
if [ ! -x "$python" ]; then
  echo "SKIP: no $python (the scaling scripts use Debian's python3: apt-get install python3)"
  exit 77
fi
for module in matplotlib numpy h5py; do
  if ! "$python" -c "import $module" 2>/dev/null; then
    echo "SKIP: $python lacks $module (apt-get install python3-matplotlib python3-h5py)"
    exit 77
  fi
done
exec "$python" "$(dirname "$0")/scripts_test.py"
