#!/usr/bin/env bash
# Rebuilds this folder's seeds for the `extraction` target: one tiny sysdiagnose in each form
# the reader takes (tar.gz, tar, zip), holding a slice of testdata's logarchive (two uuidtext
# files and the start of its Special tracev3) under the usual `sysdiagnose_<…>/` folder, plus
# a file outside the logarchive that extraction must skip. `bash fuzz/seeds/extraction/make.sh`
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
fixture="$here/../../../testdata/unifiedlog-macos-plaso.logarchive"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

top="sysdiagnose_2026.05.20_17-48-41+0300_iPhone-OS_iPhone_23E5"
archive="$work/$top/system_logs.logarchive"
mkdir -p "$archive/83" "$archive/Special"
cp "$fixture/83/8FD36BAFA43477ADDA9BE87501124E" "$fixture/83/34BC0F06CF3FF88218A4468D241A2C" "$archive/83/"
head -c 2048 "$fixture/Special/0000000000000001.tracev3" >"$archive/Special/0000000000000001.tracev3"
echo "not part of the logarchive" >"$work/$top/ps.txt"

# Fixed owners and times, so the seeds only change when their content does.
tar_flags=(--sort=name --owner=0 --group=0 --numeric-owner --mtime=2026-05-20T17:48:41Z)
(cd "$work" && tar "${tar_flags[@]}" -cf "$here/sysdiagnose.tar" "$top")
gzip -9 -n -c "$here/sysdiagnose.tar" >"$here/sysdiagnose.tar.gz"
rm -f "$here/sysdiagnose.zip"
(cd "$work" && find "$top" -exec touch -d 2026-05-20T17:48:41Z {} + && zip -q -X -r "$here/sysdiagnose.zip" "$top")
ls -l "$here"/sysdiagnose.*
