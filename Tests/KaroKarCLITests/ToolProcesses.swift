import Testing

/// The suites that start tool processes, one test at a time: dozens of processes at once on a
/// two-core machine would starve the timing-sensitive RPC suites that run beside them.
@Suite(.serialized) struct ToolProcesses {}
