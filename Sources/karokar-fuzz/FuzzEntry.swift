// libFuzzer entry point for frame, payload and JSON decoding (`FuzzHooks.input` says which).
// `Deploy/fuzz.sh` builds it with `-sanitize=fuzzer,address -D KAROKAR_FUZZ` and runs it for a
// bounded time; a plain build gets a stub that says so.
@_spi(Fuzzing) import KaroKarRPCServer

#if KAROKAR_FUZZ
import CFuzzSupport
import Glibc

func fuzzOne(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    guard let data else { return 0 }
    FuzzHooks.input(Array(UnsafeBufferPointer(start: data, count: size)))
    return 0
}

@main
enum KaroKarFuzz {
    static func main() {
        // `KAROKAR_FUZZ_WRITE_SEEDS=DIR karokar-fuzz`: writes the seeds made from the message
        // schemas (`FuzzHooks.seeds`) into DIR and exits; `Deploy/fuzz.sh` does this first.
        if let directory = getenv("KAROKAR_FUZZ_WRITE_SEEDS").map({ String(cString: $0) }) {
            for seed in FuzzHooks.seeds() {
                let path = directory + "/seed-" + seed.name
                guard let file = fopen(path, "wb") else {
                    let message = Array("karokar-fuzz: cannot write \(path): \(String(cString: strerror(errno)))\n".utf8)
                    _ = write(2, message, message.count)
                    exit(1)
                }
                _ = seed.bytes.withUnsafeBytes { fwrite($0.baseAddress, 1, $0.count, file) }
                fclose(file)
            }
            exit(0)
        }
        var argc = CommandLine.argc
        var argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? = CommandLine.unsafeArgv
        exit(LLVMFuzzerRunDriver(&argc, &argv) { data, size in fuzzOne(data, size) })
    }
}
#else
@main
enum KaroKarFuzz {
    static func main() {
        print("karokar-fuzz is a libFuzzer target: run `bash Deploy/fuzz.sh` to build and run it.")
    }
}
#endif
