import Foundation
import KaroKarKernel

/// How a message is written for DATA, and what is an address.
extension SMTPClient {
    /// The message as DATA carries it: headers, body, CRLF line ends, dot-stuffed, ending in
    /// `CRLF.CRLF`. An ASCII body goes as 7bit text; any other as base64.
    static func data(of message: MailMessage, configuration: SMTPConfiguration, date: Date = Date()) -> String {
        let text = asciiText(message.body)
        let ascii = text != nil
        var lines = [
            "From: \(mailbox(configuration.fromName, configuration.from))",
            "To: \(mailbox(message.toName, message.to))",
            "Subject: \(encodedWord(message.subject))",
            "Date: \(CivilTime(Instant(date)).rfc5322)",
            "Message-ID: <\(message.messageID)>",
            "MIME-Version: 1.0",
            "Content-Type: text/plain; charset=utf-8",
            "Content-Transfer-Encoding: \(ascii ? "7bit" : "base64")",
        ]
        for (name, value) in message.headers { lines.append("\(name): \(headerValue(value))") }
        lines.append("")
        if let text {
            return lines.joined(separator: "\r\n") + "\r\n" + text + "\r\n.\r\n"
        } else {
            let body = message.body.replacingOccurrences(of: "\r\n", with: "\n").replacingOccurrences(of: "\r", with: "\n")
            let encoded = Data(body.utf8).base64EncodedString()
            var index = encoded.startIndex
            while index < encoded.endIndex {
                let end = encoded.index(index, offsetBy: 76, limitedBy: encoded.endIndex) ?? encoded.endIndex
                lines.append(String(encoded[index..<end]))
                index = end
            }
        }
        return lines.joined(separator: "\r\n") + "\r\n.\r\n"
    }

    /// An ASCII body as DATA's 7bit text, in one pass over its bytes: CRLF, CR and LF each end a
    /// line, lines join with CRLF, a line starting with "." gets another. Nil when the body is not
    /// ASCII or a line is longer than 998 bytes (it then goes as base64).
    static func asciiText(_ body: String) -> String? {
        let cr = UInt8(ascii: "\r"), lf = UInt8(ascii: "\n"), dot = UInt8(ascii: ".")
        var out: [UInt8] = []
        out.reserveCapacity(body.utf8.count + 16)
        var lineLength = 0
        var afterCR = false
        for byte in body.utf8 {
            if byte == lf && afterCR {
                afterCR = false
                continue
            }
            afterCR = byte == cr
            if byte == cr || byte == lf {
                out.append(cr)
                out.append(lf)
                lineLength = 0
                continue
            }
            guard byte < 0x80, lineLength < 998 else { return nil }
            if lineLength == 0 && byte == dot { out.append(dot) }
            out.append(byte)
            lineLength += 1
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// A header value on one line (CR, LF and other controls, Unicode's Cc: U+0000-U+001F and
    /// U+007F-U+009F, become spaces). Printable ASCII, the usual case, is returned as it is.
    static func headerValue(_ text: String) -> String {
        if text.utf8.allSatisfy({ $0 >= 0x20 && $0 < 0x7F }) { return text }
        var scalars = String.UnicodeScalarView()
        for scalar in text.unicodeScalars {
            scalars.append(scalar.value < 0x20 || (0x7F...0x9F).contains(scalar.value) ? " " : scalar)
        }
        return String(scalars)
    }

    /// RFC 2047 `=?UTF-8?B?...?=` for non-ASCII text; ASCII as it is.
    static func encodedWord(_ text: String) -> String {
        let flat = headerValue(text)
        guard !flat.utf8.allSatisfy({ $0 >= 0x20 && $0 < 0x7F }) else { return flat }
        return "=?UTF-8?B?\(Data(flat.utf8).base64EncodedString())?="
    }

    static func mailbox(_ name: String, _ address: String) -> String {
        let flat = TemplateRenderer.oneLine(name)  // headerValue, then trimmed of CharacterSet.whitespaces
        guard !flat.isEmpty else { return "<\(address)>" }
        let display = flat.utf8.allSatisfy({ $0 >= 0x20 && $0 < 0x7F })
            ? "\"" + flat.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"") + "\""
            : encodedWord(flat)
        return "\(display) <\(address)>"
    }

    /// `local@domain`, printable ASCII, nothing that could end a command or an address.
    static func isAddress(_ text: String) -> Bool {
        text.utf8.count <= 254 && text.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7F && $0 != UInt8(ascii: "<") && $0 != UInt8(ascii: ">") })
            && text.split(separator: "@", omittingEmptySubsequences: false).count == 2 && !text.hasPrefix("@") && !text.hasSuffix("@")
    }
}
