/// A failed system call, written the way the call itself reads:
/// `kexec_file_load(kernel_fd: 3, initrd_fd: 4, cmdline_len: 31, flags: 0x0) = EPERM`.
public struct SystemCallFailure: Equatable, Sendable {
  /// The call with its arguments, without the result.
  public var call: String
  /// The errno the call returned.
  public var errno: Int32

  public init(call: String, errno: Int32) {
    self.call = call
    self.errno = errno
  }

  /// The errno's symbolic name, such as `EPERM`.
  public var errnoName: String { Errno.name(errno) }
}

extension SystemCallFailure: CustomStringConvertible {
  public var description: String { "\(call) = \(errnoName)" }
}

/// The errno values kexec and file access report on Linux. The numbers are
/// the same on x86_64, arm64 and riscv64.
public enum Errno {
  public static let EPERM: Int32 = 1
  public static let ENOENT: Int32 = 2
  public static let EIO: Int32 = 5
  public static let ENOEXEC: Int32 = 8
  public static let EBADF: Int32 = 9
  public static let ENOMEM: Int32 = 12
  public static let EACCES: Int32 = 13
  public static let EFAULT: Int32 = 14
  public static let EBUSY: Int32 = 16
  public static let ENODEV: Int32 = 19
  public static let ENOTDIR: Int32 = 20
  public static let EISDIR: Int32 = 21
  public static let EINVAL: Int32 = 22
  public static let ENOTTY: Int32 = 25
  public static let ETXTBSY: Int32 = 26
  public static let EFBIG: Int32 = 27
  public static let ENOSYS: Int32 = 38
  public static let ENODATA: Int32 = 61
  public static let ELIBBAD: Int32 = 80
  public static let EMSGSIZE: Int32 = 90
  public static let EOPNOTSUPP: Int32 = 95
  public static let EADDRNOTAVAIL: Int32 = 99
  public static let ESTALE: Int32 = 116
  public static let ENOKEY: Int32 = 126
  public static let EKEYREJECTED: Int32 = 129
  public static let EBADMSG: Int32 = 74
  public static let ENOTSUPP: Int32 = 524

  private static let names: [(Int32, String)] = [
    (EPERM, "EPERM"), (ENOENT, "ENOENT"), (EIO, "EIO"), (ENOEXEC, "ENOEXEC"),
    (EBADF, "EBADF"), (ENOMEM, "ENOMEM"), (EACCES, "EACCES"), (EFAULT, "EFAULT"),
    (EBUSY, "EBUSY"), (ENOTDIR, "ENOTDIR"), (EISDIR, "EISDIR"), (EINVAL, "EINVAL"),
    (ENODEV, "ENODEV"), (ENOTTY, "ENOTTY"), (ETXTBSY, "ETXTBSY"), (EFBIG, "EFBIG"),
    (ENOSYS, "ENOSYS"), (ENODATA, "ENODATA"),
    (ELIBBAD, "ELIBBAD"), (EMSGSIZE, "EMSGSIZE"), (EOPNOTSUPP, "EOPNOTSUPP"),
    (EADDRNOTAVAIL, "EADDRNOTAVAIL"), (ESTALE, "ESTALE"), (ENOKEY, "ENOKEY"),
    (EKEYREJECTED, "EKEYREJECTED"), (EBADMSG, "EBADMSG"), (ENOTSUPP, "ENOTSUPP"),
  ]

  /// The symbolic name of `value`, or `errno N` for one this table lacks.
  public static func name(_ value: Int32) -> String {
    for (number, name) in names where number == value {
      return name
    }
    return "errno \(value)"
  }
}
