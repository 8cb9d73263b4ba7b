// What `handoff check` found: one line per thing that can stop or spoil a
// handoff, each with how it bodes and why.

/// How one preflight item bodes for a handoff.
public enum PreflightStatus: String, Equatable, Sendable {
  /// Nothing in the way.
  case ok
  /// The handoff may work, or may leave something behind: a device no
  /// driver resets, a state Handoff cannot read.
  case warn
  /// The handoff will not work as things stand.
  case fail

  /// ok < warn < fail.
  var rank: Int {
    switch self {
    case .ok: return 0
    case .warn: return 1
    case .fail: return 2
    }
  }
}

/// One line of the report: the section it belongs to, what was checked,
/// how it bodes, and the reason in a phrase.
public struct PreflightItem: Equatable, Sendable {
  /// `machine`, `kernel` or `devices`.
  public var section: String
  /// What was checked, such as `lockdown` or a PCI address.
  public var item: String
  public var status: PreflightStatus
  public var detail: String

  public init(section: String, item: String, status: PreflightStatus, detail: String) {
    self.section = section
    self.item = item
    self.status = status
    self.detail = detail
  }
}

/// Every item `handoff check` reported, in the order it checked them.
public struct PreflightReport: Equatable, Sendable {
  public var items: [PreflightItem] = []

  public init(items: [PreflightItem] = []) {
    self.items = items
  }

  /// The worst status of any item: ok when there are none.
  public var worst: PreflightStatus {
    var worst = PreflightStatus.ok
    for item in items where item.status.rank > worst.rank { worst = item.status }
    return worst
  }

  /// How many items have `status`.
  public func count(_ status: PreflightStatus) -> Int {
    var count = 0
    for item in items where item.status == status { count += 1 }
    return count
  }

  /// The sections in the order their first item came.
  public var sections: [String] {
    var names: [String] = []
    for item in items where !names.contains(item.section) { names.append(item.section) }
    return names
  }

  @inline(never)
  mutating func add(
    _ section: String, _ item: String, _ status: PreflightStatus, _ detail: String
  ) {
    items.append(PreflightItem(section: section, item: item, status: status, detail: detail))
  }
}
