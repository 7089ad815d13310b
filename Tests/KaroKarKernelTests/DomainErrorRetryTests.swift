import KaroKarKernel
import KaroKarRPC
import Testing

/// A refusal that suggests when to retry carries it as `retry_info`, in whole milliseconds.
@Suite("Kernel: domain errors with a retry delay")
struct DomainErrorRetryTests {
    @Test(arguments: [
        (Duration.milliseconds(250), UInt64(250)), (.microseconds(1), 1), (.zero, 1), (.seconds(-5), 1),
        (.nanoseconds(1_000_001), 2), (.seconds(90), 90_000), (.seconds(Int64.max), 86_400_000),
    ])
    func theDelayIsRoundedUpAndBounded(delay: Duration, millis: UInt64) {
        let error = DomainError(.resourceExhausted, "RATE_LIMITED", "slow down", retryAfter: delay)
        #expect(error.rpcError.code == .resourceExhausted)
        #expect(error.domainCode == "RATE_LIMITED")
        #expect(error.rpcError.details?.retryInfo?.retryDelayMillis == millis)
    }
}
