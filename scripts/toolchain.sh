# Sourced by the build scripts: sets `toolchain` to the usr directory of
# the Swift toolchain, from SWIFT_TOOLCHAIN, the swiftc on PATH, or
# /opt/swift/usr, in that order.
if [[ -n ${SWIFT_TOOLCHAIN:-} ]]; then
  toolchain=$SWIFT_TOOLCHAIN
elif command -v swiftc >/dev/null; then
  toolchain=$(dirname "$(dirname "$(readlink -f "$(command -v swiftc)")")")
else
  toolchain=/opt/swift/usr
fi
