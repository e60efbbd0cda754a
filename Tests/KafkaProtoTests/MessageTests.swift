import KafkaProto
import Testing

@Suite("Message values")
struct MessageTests {
    @Test("nil and empty keys and values are different messages")
    func nilIsNotEmpty() {
        #expect(Message(key: nil, value: [UInt8]()) != Message(key: [], value: [UInt8]()))
        #expect(Message(key: [UInt8]?.none, value: nil) != Message(key: [UInt8]?.none, value: []))
        #expect(Message(key: [1], value: [2]) == Message(key: [1], value: [2]))
    }

    @Test("a new message has no position yet")
    func unsetPosition() {
        let message = Message(value: "v")
        #expect(message.offset == -1)
        #expect(message.partition == -1)
        #expect(message.topic.isEmpty)
        #expect(message.crc == 0)
    }

    /// The v0 CRC vectors of go-semantics.md section 17.4, checked against Go's proto tests.
    @Test("v0 CRC matches Go's proto.ComputeCrc", arguments: [
        (nil, nil, 0xa7ec_6803),
        (nil, "", 0x7957_48e0),
        ("", "", 0xe38a_6876),
        (nil, "first", 0x23c6_3263),
        ("foo", "bar", 0xb8ba_5f57),
        ("1", "first", 0xae9a_f56a),
        (nil, "hello world", 0x73ac_f77c),
    ] as [(String?, String?, UInt32)])
    func crcMatchesGo(key: String?, value: String?, crc: UInt32) {
        #expect(Message(key: key, value: value).computeCRC() == crc)
    }

    @Test("v0 CRC over a value holding every byte")
    func crcAllBytes() {
        let message = Message(key: Array("k".utf8), value: Array(0...255))
        #expect(message.computeCRC() == 0x24e7_18c5)
    }

    @Test("the CRC-32 check value of \"123456789\" is 0xCBF43926")
    func crcCheckValue() {
        #expect(CRC32.checksum(Array("123456789".utf8)) == 0xCBF4_3926)
    }

    @Test("required acks map to Go's wire values and back")
    func requiredAcks() {
        #expect(RequiredAcks.none.rawValue == 0)
        #expect(RequiredAcks.local.rawValue == 1)
        #expect(RequiredAcks.all.rawValue == -1)
        for raw: Int16 in [-1, 0, 1, 2, 3] {
            #expect(RequiredAcks(rawValue: raw).rawValue == raw)
        }
    }

    @Test("start offsets map to Go's constants")
    func startOffsets() {
        #expect(StartOffset.newest.goValue == -1)
        #expect(StartOffset.oldest.goValue == -2)
        #expect(StartOffset.offset(42).goValue == 42)
    }
}
