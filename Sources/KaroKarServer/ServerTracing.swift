public import KaroKarTracing
public import Logging
import Foundation
import KaroKarKernel
import KaroKarRPC
import KaroKarRPCServer
import ServiceLifecycle
import Tracing

/// The process's tracer and its OTLP exporter, when `tracing-otlp-endpoint` is set (README,
/// "Tracing"). Made before the database pool, which traces statements with it.
public struct ServerTracing: Sendable {
    public let tracer: KaroKarTracer
    public let exporter: OTLPHTTPExporter

    /// Nil when no endpoint is configured: then nothing is traced.
    public static func make(_ settings: ServerSettings, logger: Logger) -> ServerTracing? {
        guard let endpoint = settings.tracing.otlpEndpoint else { return nil }
        var configuration = OTLPHTTPExporter.Configuration(endpoint: endpoint, serviceName: settings.tracing.serviceName)
        configuration.resourceAttributes = [("service.instance.id", ServerTracing.instanceID)]
        let exporter = OTLPHTTPExporter(configuration: configuration, logger: logger)
        logger.info("tracing", metadata: ["url": "\(configuration.tracesURL)", "sample-ratio": "\(settings.tracing.sampleRatio)"])
        return ServerTracing(tracer: KaroKarTracer(exporter: exporter, sampleRatio: settings.tracing.sampleRatio), exporter: exporter)
    }

    static let instanceID = "\(ProcessInfo.processInfo.hostName):\(ProcessInfo.processInfo.processIdentifier)"

    /// What the composition root adds to a call's server span: the caller's organization.
    static func callAttributes(_ context: ServerCallContext, _ attributes: inout SpanAttributes) {
        if let caller = context.caller, caller.kind != .anonymous {
            attributes["karokar.organization_id"] = caller.organizationID.uuidString.lowercased()
        }
    }
}

/// The exporter: sends batches until the group stops it, then what is left. Listed right after
/// the admin server, so it stops after everything that makes spans.
struct TraceExportService: Service, CustomStringConvertible {
    let exporter: OTLPHTTPExporter
    var description: String { "trace exporter" }

    func run() async throws {
        let exporter = self.exporter
        await cancelWhenGracefulShutdown {
            await exporter.run()
        }
    }
}
