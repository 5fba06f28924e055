using System.Buffers.Binary;
using Herald.Channels.Sms.Smpp;

namespace Herald.Channels.Tests.Smpp;

public sealed class SmppCodecTests
{
    [Fact]
    public void BindTransceiver_RoundTrips_AndMatchesTheSpecLayout()
    {
        var pdu = new SmppPdu(SmppCommand.BindTransceiver, 0, 7) { Bind = new SmppBind("bank", "secret", "OTP", 0x34, 1, 1, "") };

        var bytes = SmppCodec.Encode(pdu);

        // header (16) + "bank\0" + "secret\0" + "OTP\0" + version, ton, npi + "\0"
        Assert.Equal(16 + 5 + 7 + 4 + 3 + 1, bytes.Length);
        Assert.Equal((uint)bytes.Length, BinaryPrimitives.ReadUInt32BigEndian(bytes));
        Assert.Equal("00000009000000000000000762616E6B00", Convert.ToHexString(bytes.AsSpan(4, 17)));
        var decoded = SmppCodec.Decode(bytes);
        Assert.Equal(pdu.Bind, decoded.Bind);
        Assert.Equal((SmppCommand.BindTransceiver, 7u), (decoded.CommandId, decoded.Sequence));
    }

    [Fact]
    public void SubmitSm_WithTlvs_RoundTrips()
    {
        var message = new SmppShortMessage
        {
            SourceTon = 5,
            SourceAddr = "BANK",
            DestTon = 1,
            DestNpi = 1,
            DestinationAddr = "4915112345678",
            EsmClass = SmppFlags.EsmUdhi,
            RegisteredDelivery = 1,
            DataCoding = SmppFlags.DataCodingUcs2,
            ShortMessage = [0x05, 0x00, 0x03, 0x2A, 0x02, 0x01, 0x00, 0x41],
            Tlvs = [new SmppTlv(SmppTag.MessagePayload, [1, 2, 3]), new SmppTlv(0x1400, [])],
        };

        var decoded = SmppCodec.Decode(SmppCodec.Encode(new SmppPdu(SmppCommand.SubmitSm, 0, 0x7FFFFFFF) { Message = message }));

        var m = decoded.Message!;
        Assert.Equal((message.SourceTon, message.SourceAddr, message.DestTon, message.DestNpi, message.DestinationAddr), (m.SourceTon, m.SourceAddr, m.DestTon, m.DestNpi, m.DestinationAddr));
        Assert.Equal((message.EsmClass, message.RegisteredDelivery, message.DataCoding), (m.EsmClass, m.RegisteredDelivery, m.DataCoding));
        Assert.Equal(message.ShortMessage, m.ShortMessage);
        Assert.Equal([1, 2, 3], m.Tlv(SmppTag.MessagePayload));
        Assert.Equal(2, m.Tlvs.Count);
        Assert.Empty(m.Tlv(0x1400)!);
        Assert.Null(m.Tlv(SmppTag.ReceiptedMessageId));
    }

    [Theory]
    [InlineData(SmppCommand.SubmitSmResp, SmppStatus.Ok, "msg-0001")]
    [InlineData(SmppCommand.DeliverSmResp, SmppStatus.Ok, "")]
    [InlineData(SmppCommand.BindTransceiverResp, SmppStatus.Ok, "SMSC")]
    public void Responses_WithId_RoundTrip(uint command, uint status, string id)
    {
        var decoded = SmppCodec.Decode(SmppCodec.Encode(new SmppPdu(command, status, 42) { Id = id }));

        Assert.Equal((command, status, 42u, id), (decoded.CommandId, decoded.Status, decoded.Sequence, decoded.Id));
    }

    [Fact]
    public void ErrorResponses_WithoutBody_AreHeaderOnly()
    {
        var bytes = SmppCodec.Encode(SmppPdu.Header(SmppCommand.SubmitSmResp, 3, SmppStatus.Throttled));

        Assert.Equal(16, bytes.Length);
        var decoded = SmppCodec.Decode(bytes);
        Assert.Equal((SmppStatus.Throttled, (string?)null), (decoded.Status, decoded.Id));
    }

    [Theory]
    [InlineData(SmppCommand.EnquireLink)]
    [InlineData(SmppCommand.EnquireLinkResp)]
    [InlineData(SmppCommand.Unbind)]
    [InlineData(SmppCommand.UnbindResp)]
    [InlineData(SmppCommand.GenericNack)]
    [InlineData(0x00000103u)]
    public void HeaderOnlyPdus_RoundTrip(uint command)
    {
        var bytes = SmppCodec.Encode(SmppPdu.Header(command, 9, command == SmppCommand.GenericNack ? SmppStatus.InvalidCommandId : 0));

        Assert.Equal(16, bytes.Length);
        Assert.Equal(command, SmppCodec.Decode(bytes).CommandId);
    }

    [Fact]
    public void Encode_FieldsBeyondTheirSpecSize_AreRefused_WithoutEchoingThem()
    {
        var e = Assert.Throws<ArgumentException>(() => SmppCodec.Encode(
            new SmppPdu(SmppCommand.BindTransceiver, 0, 1) { Bind = new SmppBind("bank", "toolongpassword") }));
        Assert.DoesNotContain("toolongpassword", e.Message, StringComparison.Ordinal);
        Assert.Throws<ArgumentException>(() => SmppCodec.Encode(
            new SmppPdu(SmppCommand.SubmitSm, 0, 1) { Message = new SmppShortMessage { DestinationAddr = "1", ShortMessage = new byte[255] } }));
    }

    public static TheoryData<string, byte[]> HostileFrames() => new()
    {
        { "shorter than a header", [0, 0, 0, 16, 0, 0, 0, 21] },
        { "length below 16", Frame(8, SmppCommand.EnquireLink) },
        { "length above the maximum", Frame(0x7FFFFFFF, SmppCommand.SubmitSm) },
        { "length not matching the bytes", Frame(40, SmppCommand.EnquireLink) },
        { "bind with an unterminated system_id", Body(SmppCommand.BindTransceiver, "bank"u8.ToArray()) },
        { "bind cut after system_id", Body(SmppCommand.BindTransceiver, "bank\0"u8.ToArray()) },
        { "system_id over 15 characters", Body(SmppCommand.BindTransceiver, [.. "abcdefghijklmnopq"u8, 0, 0, 0, 0x34, 0, 0, 0]) },
        { "submit_sm with sm_length beyond the PDU", Body(SmppCommand.SubmitSm, [0, 1, 1, 0, 1, 1, .. "49151\0"u8, 0, 0, 0, 0, 0, 1, 0, 0, 0, 200, 65]) },
        { "submit_sm with a TLV length beyond the PDU", Body(SmppCommand.SubmitSm, [0, 1, 1, 0, 1, 1, .. "49151\0"u8, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0x04, 0x24, 0xFF, 0xFF, 1]) },
        { "submit_sm with half a TLV header", Body(SmppCommand.SubmitSm, [0, 1, 1, 0, 1, 1, .. "49151\0"u8, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0x04]) },
    };

    [Theory]
    [MemberData(nameof(HostileFrames))]
    public void Decode_HostileFrames_ThrowProtocolErrors(string why, byte[] frame)
    {
        var e = Assert.Throws<SmppProtocolException>(() => SmppCodec.Decode(frame));
        Assert.False(string.IsNullOrEmpty(e.Message), why);
    }

    [Fact]
    public async Task ReadFrame_HugeCommandLength_IsRefusedBeforeAllocating()
    {
        // 4 GiB claimed: the reader must refuse on the header, not try to buffer it.
        using var stream = new MemoryStream(Frame(0xFFFFFFF0, SmppCommand.SubmitSm));
        await using var connection = new SmppConnection(stream);

        await Assert.ThrowsAsync<SmppProtocolException>(() => connection.ReadFrameAsync(TestContext.Current.CancellationToken));
    }

    [Fact]
    public async Task ReadFrame_TruncatedBody_EndsWithEndOfStream_AndCleanEofIsNull()
    {
        var truncated = SmppCodec.Encode(SmppPdu.Header(SmppCommand.SubmitSmResp, 1) with { Id = "abc" })[..18];
        await using (var connection = new SmppConnection(new MemoryStream(truncated)))
        {
            await Assert.ThrowsAsync<EndOfStreamException>(() => connection.ReadFrameAsync(TestContext.Current.CancellationToken));
        }

        await using (var connection = new SmppConnection(new MemoryStream([])))
        {
            Assert.Null(await connection.ReadFrameAsync(TestContext.Current.CancellationToken));
        }
    }

    [Fact]
    public async Task ReadFrame_ReadsConsecutivePdus()
    {
        var first = SmppCodec.Encode(SmppPdu.Header(SmppCommand.EnquireLink, 1));
        var second = SmppCodec.Encode(new SmppPdu(SmppCommand.SubmitSmResp, 0, 2) { Id = "id-2" });
        await using var connection = new SmppConnection(new MemoryStream([.. first, .. second]));

        var a = SmppCodec.Decode((await connection.ReadFrameAsync(TestContext.Current.CancellationToken))!);
        var b = SmppCodec.Decode((await connection.ReadFrameAsync(TestContext.Current.CancellationToken))!);

        Assert.Equal((SmppCommand.EnquireLink, SmppCommand.SubmitSmResp, "id-2"), (a.CommandId, b.CommandId, b.Id));
    }

    [Fact]
    public void Decode_RandomBytes_NeverThrowsAnythingButProtocolErrors()
    {
        var random = new Random(1234);
        for (var i = 0; i < 20_000; i++)
        {
            var body = new byte[random.Next(0, 80)];
            random.NextBytes(body);
            var commands = new[] { SmppCommand.BindTransceiver, SmppCommand.SubmitSm, SmppCommand.DeliverSm, SmppCommand.SubmitSmResp, SmppCommand.BindTransceiverResp };
            var frame = Body(commands[i % commands.Length], body);
            try
            {
                SmppCodec.Decode(frame);
            }
            catch (SmppProtocolException)
            {
                // Expected for most garbage.
            }
        }
    }

    private static byte[] Frame(uint length, uint command)
    {
        var frame = new byte[16];
        BinaryPrimitives.WriteUInt32BigEndian(frame, length);
        BinaryPrimitives.WriteUInt32BigEndian(frame.AsSpan(4), command);
        BinaryPrimitives.WriteUInt32BigEndian(frame.AsSpan(12), 1);
        return frame;
    }

    private static byte[] Body(uint command, byte[] body)
    {
        var frame = new byte[16 + body.Length];
        BinaryPrimitives.WriteUInt32BigEndian(frame, (uint)frame.Length);
        BinaryPrimitives.WriteUInt32BigEndian(frame.AsSpan(4), command);
        BinaryPrimitives.WriteUInt32BigEndian(frame.AsSpan(12), 1);
        body.CopyTo(frame, 16);
        return frame;
    }
}
