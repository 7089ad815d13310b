import ArgumentParser
import KaroKarMessages
import KaroKarRPC
import KaroKarServices
import KaroKarToolSupport
import NIOPosix

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// `karokar-bench cross-instance`: the booking guarantees hold across several servers on one
/// database (Deploy/scale-out.sh). Setup (the marketplace's, one vendor with one vehicle and one
/// corporate) goes through the first address; then, each round:
/// - no double booking: the corporate books the vehicle once per server for overlapping periods
///   and submits; the vendor approves all of them at once, each through another server: exactly
///   one approval may succeed, the others must be refused `VEHICLE_NOT_AVAILABLE`;
/// - idempotency: one CreateBooking with one `idempotency-key` sent at once through two servers
///   and then again through every server: every answer names the same booking.
/// Exits 1 on any violation or unexpected failure.
struct CrossInstanceCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cross-instance",
        abstract: "Check no-double-booking and idempotency across several servers on one database."
    )

    @Option(name: .customLong("address"), help: "A server, HOST:PORT (repeat: two or more).") var addresses: [String] = []
    @Option(help: "Rounds of each check (at most 15).") var rounds = 5
    @Option(help: "The platform administrator's e-mail.") var adminEmail = "admin@karokar.local"
    @Option(help: "Their password (visible to other users of the machine; prefer the file).") var adminPassword: String?
    @Option(help: "File holding their password.") var adminPasswordFile = ".karokar/bootstrap-admin-password"
    @Option(help: "Deadline of each call.") var timeout = "60s"
    @Option(help: "Seed of the generated data.") var seed: UInt64 = 1

    func validate() throws {
        guard addresses.count >= 2 else { throw ValidationError("give at least two --address") }
        guard (1...15).contains(rounds) else { throw ValidationError("--rounds must be 1 to 15") }
    }

    func run() async throws {
        do {
            let clients = try addresses.map { text throws(ToolError) in
                let address = try ServerAddress(parsing: text)
                var configuration = RPCClient.Configuration(host: address.host, port: address.port)
                configuration.clientName = "karokar-bench-cross-instance"
                return RPCClient(configuration: configuration, group: MultiThreadedEventLoopGroup.singleton)
            }
            let timeout = try DurationText.parse(self.timeout)
            let password = try adminPassword ?? TextInput.file(adminPasswordFile).split(whereSeparator: \.isNewline).first.map(String.init) ?? ""
            let now = Int64(time(nil))
            let data = MarketplaceData(seed: seed, runTag: MarketplaceData.makeRunTag(), horizonStart: (now / 86_400 + 1) * 86_400)
            let scenario = MarketplaceScenario.make(MarketplaceScenario.Configuration(
                vendors: 1, vehiclesPerVendor: 1, corporates: 1, adminEmail: adminEmail, adminPassword: password, data: data
            ))
            let world = ScenarioWorld()
            let context = ScenarioContext(client: clients[0], options: CallOptions(timeout: timeout), world: world)
            _ = try await ScenarioRunner(scenario: scenario, context: context, setupContext: context, concurrency: 4, duration: .zero, seed: seed).runSetup()
            guard let vehicle = world.values(in: "vehicles", as: MarketplaceVehicle.self).first,
                  let corporate = world.values(in: "corporates", as: MarketplaceActor.self).first else {
                throw ToolError("setup left no vehicle or corporate")
            }
            let check = Check(clients: clients, timeout: timeout, vehicle: vehicle, corporate: corporate, data: data)
            var violations = 0
            var approved = 0, refused = 0
            for round in 0..<rounds {
                let outcome = try await check.approvalRace(round: round)
                approved += outcome.approved
                refused += outcome.refused
                if outcome.approved != 1 {
                    violations += 1
                    StandardError.line("round \(round + 1): \(outcome.approved) of \(clients.count) overlapping bookings approved")
                }
            }
            print("no double booking: \(rounds) rounds of \(clients.count) concurrent approvals of overlapping bookings, one per server: "
                + "\(approved) approved, \(refused) VEHICLE_NOT_AVAILABLE" + (violations == 0 ? ": OK" : ": VIOLATED in \(violations) rounds"))
            var differing = 0
            for round in 0..<rounds {
                let ids = try await check.sameKey(round: round)
                if Set(ids).count != 1 {
                    differing += 1
                    StandardError.line("idempotency round \(round + 1): one key gave bookings \(ids)")
                }
            }
            violations += differing
            print("idempotency: \(rounds) keys, each sent at once through two servers and then through all \(clients.count): "
                + (differing == 0 ? "one booking per key: OK" : "\(differing) keys gave several bookings: VIOLATED"))
            for client in clients { await client.close() }
            if violations > 0 { throw ExitCode(ExitStatus.localFailure) }
        } catch let error as ToolError {
            StandardError.line("error: \(error.message)")
            throw ExitCode(ExitStatus.localFailure)
        } catch let error as RPCError {
            StandardError.line("error: " + StatusText.describe(error))
            throw ExitCode(ExitStatus.forCode(error.code))
        }
    }

    struct Check {
        typealias Bookings = BookingV1.BookingService
        let clients: [RPCClient]
        let timeout: Duration
        let vehicle: MarketplaceVehicle
        let corporate: MarketplaceActor
        let data: MarketplaceData

        func options(_ actor: MarketplaceActor, key: String? = nil) -> CallOptions {
            var options = CallOptions(timeout: timeout)
            options.metadata[Metadata.Key.authorization] = "Bearer \(actor.accessToken)"
            if let key { options.metadata[Metadata.Key.idempotencyKey] = key }
            return options
        }

        /// Round `round`'s days lie in the second half of the horizon (setup's maintenance is in
        /// the first, and the one vehicle gets no block), two days apart.
        func period(round: Int, shift: Int) -> CommonV1.Period {
            data.period(startHour: Int64(50 + 2 * round) * 24 + Int64(shift), hours: 12)
        }

        func approvalRace(round: Int) async throws -> (approved: Int, refused: Int) {
            var bookings: [String] = []
            for (index, client) in clients.enumerated() {
                let booking = try await Bookings.Client(client).createBooking(
                    BookingV1.CreateBookingRequest(vehicleId: vehicle.id, period: period(round: round, shift: index)), options: options(corporate)
                ).booking
                guard let id = booking?.id, !id.isEmpty else { throw ToolError("CreateBooking answered without a booking") }
                _ = try await Bookings.Client(client).submitBooking(BookingV1.SubmitBookingRequest(bookingId: id), options: options(corporate))
                bookings.append(id)
            }
            let vendor = vehicle.owner
            let outcomes = await withTaskGroup(of: Result<Void, RPCError>.self) { group in
                for (index, booking) in bookings.enumerated() {
                    let client = clients[(index + round) % clients.count]
                    group.addTask {
                        do {
                            _ = try await Bookings.Client(client).approveBooking(BookingV1.ApproveBookingRequest(bookingId: booking), options: options(vendor))
                            return .success(())
                        } catch let error as RPCError {
                            return .failure(error)
                        } catch {
                            return .failure(RPCError(.unknown, "\(error)"))
                        }
                    }
                }
                return await group.reduce(into: []) { $0.append($1) }
            }
            var approved = 0, refused = 0
            for outcome in outcomes {
                switch outcome {
                case .success: approved += 1
                case .failure(let error) where error.domainCode == "VEHICLE_NOT_AVAILABLE": refused += 1
                case .failure(let error): throw error
                }
            }
            return (approved, refused)
        }

        /// The booking ids every answer named.
        func sameKey(round: Int) async throws -> [String] {
            let key = "cross-instance-\(data.runTag)-\(round)"
            let request = BookingV1.CreateBookingRequest(vehicleId: vehicle.id, period: period(round: round, shift: 20))
            let create: @Sendable (RPCClient) async throws -> String = { client in
                try await Bookings.Client(client).createBooking(request, options: options(corporate, key: key)).booking?.id ?? ""
            }
            async let first = create(clients[0])
            async let second = create(clients[1])
            var ids = try await [first, second]
            for client in clients { ids.append(try await create(client)) }
            return ids
        }
    }
}
