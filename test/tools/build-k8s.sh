#!/usr/bin/env bash
# Builds the Kubernetes control-plane binaries pinned in test/tools/k8s into
# $OUT (default _output/bin). Each binary is skipped when already present, so
# the first build (~15 min on 2 cores) is paid once and later runs are instant.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
out=${OUT:-$here/../../_output/bin}
mkdir -p "$out"
out=$(cd "$out" && pwd)
cd "$here/k8s"
version=$(go list -m -f '{{.Version}}' k8s.io/kubernetes)
minor=$(echo "$version" | cut -d. -f2)
# An empty gitVersion makes the binaries panic at start, so stamp every version var.
ldflags="-s -w"
for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
  ldflags="$ldflags -X $pkg.gitVersion=$version -X $pkg.gitMajor=1 -X $pkg.gitMinor=$minor -X $pkg.gitTreeState=clean"
done
for bin in "${@:-kube-apiserver kube-controller-manager kube-scheduler kubectl}"; do
  for b in $bin; do
    if [ -x "$out/$b" ]; then continue; fi
    start=$(date +%s)
    CGO_ENABLED=0 go build -trimpath -ldflags "$ldflags" -o "$out/$b.tmp" "k8s.io/kubernetes/cmd/$b"
    mv "$out/$b.tmp" "$out/$b"
    echo "built $b $version in $(( $(date +%s) - start ))s"
  done
done
