using System.Buffers;
using System.Buffers.Binary;
using System.Text;

namespace Herald.Channels.Sms.Smpp;

/// <summary>One optional parameter (tag, length, value).</summary>
public sealed record SmppTlv(ushort Tag, byte[] Value);

/// <summary>The body of bind_transmitter / bind_receiver / bind_transceiver (§4.1).</summary>
public sealed record SmppBind(
    string SystemId,
    string Password,
    string SystemType = "",
    byte InterfaceVersion = SmppFlags.InterfaceVersion34,
    byte AddrTon = 0,
    byte AddrNpi = 0,
    string AddressRange = "")
{
    /// <summary>Without the password: PDUs end up in test output and exception messages.</summary>
    public override string ToString() => $"SmppBind {{ SystemId = {SystemId}, SystemType = {SystemType} }}";
}

/// <summary>The body shared by submit_sm and deliver_sm (§4.4, §4.6).</summary>
public sealed record SmppShortMessage
{
    public string ServiceType { get; init; } = "";
    public byte SourceTon { get; init; }
    public byte SourceNpi { get; init; }
    public string SourceAddr { get; init; } = "";
    public byte DestTon { get; init; }
    public byte DestNpi { get; init; }
    public string DestinationAddr { get; init; } = "";
    public byte EsmClass { get; init; }
    public byte ProtocolId { get; init; }
    public byte PriorityFlag { get; init; }
    public string ScheduleDeliveryTime { get; init; } = "";
    public string ValidityPeriod { get; init; } = "";
    public byte RegisteredDelivery { get; init; }
    public byte ReplaceIfPresent { get; init; }
    public byte DataCoding { get; init; }
    public byte SmDefaultMsgId { get; init; }
    public byte[] ShortMessage { get; init; } = [];
    public IReadOnlyList<SmppTlv> Tlvs { get; init; } = [];

    /// <summary>The value of the first TLV with this tag, or null.</summary>
    public byte[]? Tlv(ushort tag)
    {
        foreach (var tlv in Tlvs)
        {
            if (tlv.Tag == tag)
            {
                return tlv.Value;
            }
        }

        return null;
    }
}

/// <summary>
/// One SMPP 3.4 PDU. <see cref="CommandId"/> says which of the bodies is set: <see cref="Bind"/> for the three
/// binds, <see cref="Message"/> for submit_sm/deliver_sm, <see cref="Id"/> for the responses that carry a C-string
/// (system_id of a bind response, message_id of submit_sm_resp/deliver_sm_resp); the rest are header only.
/// </summary>
public sealed record SmppPdu(uint CommandId, uint Status, uint Sequence)
{
    public SmppBind? Bind { get; init; }

    public SmppShortMessage? Message { get; init; }

    public string? Id { get; init; }

    /// <summary>Optional parameters of a response (e.g. sc_interface_version on a bind response).</summary>
    public IReadOnlyList<SmppTlv> ResponseTlvs { get; init; } = [];

    public static SmppPdu Header(uint commandId, uint sequence, uint status = SmppStatus.Ok) => new(commandId, status, sequence);

    public override string ToString() => $"{SmppCommand.Name(CommandId)} seq={Sequence} status={SmppStatus.Name(Status)}";
}

/// <summary>A PDU that cannot be decoded; <see cref="Status"/> is the command_status to answer it with.</summary>
public sealed class SmppProtocolException(string message, uint status = SmppStatus.InvalidCommandLength) : Exception(message)
{
    public uint Status { get; } = status;
}

/// <summary>
/// Encodes and decodes SMPP 3.4 PDUs: big-endian header (command_length, command_id, command_status,
/// sequence_number), C-octet strings (ASCII, NUL-terminated, bounded by the spec's maximum sizes), and TLVs.
/// Decoding never trusts a length: command_length is checked against <see cref="MaxPduLength"/> before any buffer
/// is allocated, and every field is bounds-checked against the PDU.
/// </summary>
public static class SmppCodec
{
    public const int HeaderLength = 16;

    /// <summary>Largest PDU accepted: a submit_sm with a full 64 KiB message_payload plus its fields.</summary>
    public const int MaxPduLength = 70 * 1024;

    // C-octet string maxima including the NUL (§4).
    private const int SystemIdMax = 16, PasswordMax = 9, SystemTypeMax = 13, AddressRangeMax = 41;
    private const int ServiceTypeMax = 6, AddrMax = 21, TimeMax = 17, MessageIdMax = 65;

    private static readonly Encoding Ascii = Encoding.Latin1;

    /// <summary>The command_length of a header, checked; throws for a length outside 16..<see cref="MaxPduLength"/>.</summary>
    public static int ReadLength(ReadOnlySpan<byte> header)
    {
        var length = BinaryPrimitives.ReadUInt32BigEndian(header);
        return length is < HeaderLength or > MaxPduLength
            ? throw new SmppProtocolException($"command_length {length} is outside {HeaderLength}..{MaxPduLength}")
            : (int)length;
    }

    public static byte[] Encode(SmppPdu pdu)
    {
        var buffer = new ArrayBufferWriter<byte>(64);
        var w = new Writer(buffer);
        w.UInt32(0);
        w.UInt32(pdu.CommandId);
        w.UInt32(pdu.Status);
        w.UInt32(pdu.Sequence);
        switch (pdu.CommandId)
        {
            case SmppCommand.BindReceiver or SmppCommand.BindTransmitter or SmppCommand.BindTransceiver:
                var bind = pdu.Bind ?? throw new ArgumentException("a bind PDU needs Bind", nameof(pdu));
                w.CString(bind.SystemId, SystemIdMax);
                w.CString(bind.Password, PasswordMax);
                w.CString(bind.SystemType, SystemTypeMax);
                w.Byte(bind.InterfaceVersion);
                w.Byte(bind.AddrTon);
                w.Byte(bind.AddrNpi);
                w.CString(bind.AddressRange, AddressRangeMax);
                break;
            case SmppCommand.BindReceiverResp or SmppCommand.BindTransmitterResp or SmppCommand.BindTransceiverResp:
                // On an error the body may be left out (§4.1.2); with ROK the system_id is mandatory.
                if (pdu.Status == SmppStatus.Ok || pdu.Id is not null)
                {
                    w.CString(pdu.Id ?? "", SystemIdMax);
                    w.Tlvs(pdu.ResponseTlvs);
                }

                break;
            case SmppCommand.SubmitSm or SmppCommand.DeliverSm:
                var m = pdu.Message ?? throw new ArgumentException("submit_sm/deliver_sm needs Message", nameof(pdu));
                w.CString(m.ServiceType, ServiceTypeMax);
                w.Byte(m.SourceTon);
                w.Byte(m.SourceNpi);
                w.CString(m.SourceAddr, AddrMax);
                w.Byte(m.DestTon);
                w.Byte(m.DestNpi);
                w.CString(m.DestinationAddr, AddrMax);
                w.Byte(m.EsmClass);
                w.Byte(m.ProtocolId);
                w.Byte(m.PriorityFlag);
                w.CString(m.ScheduleDeliveryTime, TimeMax);
                w.CString(m.ValidityPeriod, TimeMax);
                w.Byte(m.RegisteredDelivery);
                w.Byte(m.ReplaceIfPresent);
                w.Byte(m.DataCoding);
                w.Byte(m.SmDefaultMsgId);
                if (m.ShortMessage.Length > 254)
                {
                    throw new ArgumentException("short_message is at most 254 octets; use message_payload", nameof(pdu));
                }

                w.Byte((byte)m.ShortMessage.Length);
                w.Bytes(m.ShortMessage);
                w.Tlvs(m.Tlvs);
                break;
            case SmppCommand.SubmitSmResp:
                if (pdu.Status == SmppStatus.Ok || pdu.Id is not null)
                {
                    w.CString(pdu.Id ?? "", MessageIdMax);
                }

                break;
            case SmppCommand.DeliverSmResp:
                // message_id is unused and must be NULL (a single NUL octet).
                w.CString(pdu.Id ?? "", MessageIdMax);
                break;
        }

        var bytes = buffer.WrittenSpan.ToArray();
        if (bytes.Length > MaxPduLength)
        {
            throw new ArgumentException($"the PDU would be {bytes.Length} octets, more than {MaxPduLength}", nameof(pdu));
        }

        BinaryPrimitives.WriteUInt32BigEndian(bytes, (uint)bytes.Length);
        return bytes;
    }

    /// <summary>Decodes one whole PDU (header included). Unknown command ids decode to a header-only PDU.</summary>
    /// <exception cref="SmppProtocolException">The PDU is truncated, too long, or a field overruns it.</exception>
    public static SmppPdu Decode(ReadOnlySpan<byte> pdu)
    {
        if (pdu.Length < HeaderLength)
        {
            throw new SmppProtocolException($"a PDU is at least {HeaderLength} octets, got {pdu.Length}");
        }

        var length = ReadLength(pdu);
        if (length != pdu.Length)
        {
            throw new SmppProtocolException($"command_length {length} does not match the {pdu.Length} octets received");
        }

        var commandId = BinaryPrimitives.ReadUInt32BigEndian(pdu[4..]);
        var status = BinaryPrimitives.ReadUInt32BigEndian(pdu[8..]);
        var sequence = BinaryPrimitives.ReadUInt32BigEndian(pdu[12..]);
        var r = new Reader(pdu[HeaderLength..]);
        var result = new SmppPdu(commandId, status, sequence);
        switch (commandId)
        {
            case SmppCommand.BindReceiver or SmppCommand.BindTransmitter or SmppCommand.BindTransceiver:
                result = result with
                {
                    Bind = new SmppBind(
                        r.CString(SystemIdMax, "system_id"),
                        r.CString(PasswordMax, "password"),
                        r.CString(SystemTypeMax, "system_type"),
                        r.Byte("interface_version"),
                        r.Byte("addr_ton"),
                        r.Byte("addr_npi"),
                        r.CString(AddressRangeMax, "address_range")),
                };
                break;
            case SmppCommand.BindReceiverResp or SmppCommand.BindTransmitterResp or SmppCommand.BindTransceiverResp:
                if (!r.AtEnd)
                {
                    result = result with { Id = r.CString(SystemIdMax, "system_id"), ResponseTlvs = r.Tlvs() };
                }

                break;
            case SmppCommand.SubmitSm or SmppCommand.DeliverSm:
                var m = new SmppShortMessage
                {
                    ServiceType = r.CString(ServiceTypeMax, "service_type"),
                    SourceTon = r.Byte("source_addr_ton"),
                    SourceNpi = r.Byte("source_addr_npi"),
                    SourceAddr = r.CString(AddrMax, "source_addr"),
                    DestTon = r.Byte("dest_addr_ton"),
                    DestNpi = r.Byte("dest_addr_npi"),
                    DestinationAddr = r.CString(AddrMax, "destination_addr"),
                    EsmClass = r.Byte("esm_class"),
                    ProtocolId = r.Byte("protocol_id"),
                    PriorityFlag = r.Byte("priority_flag"),
                    ScheduleDeliveryTime = r.CString(TimeMax, "schedule_delivery_time"),
                    ValidityPeriod = r.CString(TimeMax, "validity_period"),
                    RegisteredDelivery = r.Byte("registered_delivery"),
                    ReplaceIfPresent = r.Byte("replace_if_present_flag"),
                    DataCoding = r.Byte("data_coding"),
                    SmDefaultMsgId = r.Byte("sm_default_msg_id"),
                };
                var smLength = r.Byte("sm_length");
                if (smLength > 254)
                {
                    throw new SmppProtocolException($"sm_length {smLength} is more than 254", SmppStatus.InvalidMessageLength);
                }

                result = result with { Message = m with { ShortMessage = r.Bytes(smLength, "short_message"), Tlvs = r.Tlvs() } };
                break;
            case SmppCommand.SubmitSmResp or SmppCommand.DeliverSmResp:
                if (!r.AtEnd)
                {
                    result = result with { Id = r.CString(MessageIdMax, "message_id"), ResponseTlvs = r.Tlvs() };
                }

                break;
        }

        return result;
    }

    private ref struct Reader(ReadOnlySpan<byte> body)
    {
        private readonly ReadOnlySpan<byte> _body = body;
        private int _at;

        public readonly bool AtEnd => _at >= _body.Length;

        public byte Byte(string field)
        {
            if (_at >= _body.Length)
            {
                throw new SmppProtocolException($"{field} is missing: the PDU ends early");
            }

            return _body[_at++];
        }

        public byte[] Bytes(int count, string field)
        {
            if (count > _body.Length - _at)
            {
                throw new SmppProtocolException($"{field} overruns the PDU ({count} octets, {_body.Length - _at} left)", SmppStatus.InvalidMessageLength);
            }

            var bytes = _body.Slice(_at, count).ToArray();
            _at += count;
            return bytes;
        }

        public string CString(int max, string field)
        {
            var rest = _body[_at..];
            var nul = rest[..Math.Min(rest.Length, max)].IndexOf((byte)0);
            if (nul < 0)
            {
                throw new SmppProtocolException(rest.Length < max
                    ? $"{field} is not NUL-terminated before the PDU ends"
                    : $"{field} is longer than {max - 1} characters");
            }

            var text = Ascii.GetString(rest[..nul]);
            _at += nul + 1;
            return text;
        }

        public IReadOnlyList<SmppTlv> Tlvs()
        {
            List<SmppTlv>? tlvs = null;
            while (_at < _body.Length)
            {
                if (_body.Length - _at < 4)
                {
                    throw new SmppProtocolException("a TLV header is cut short", SmppStatus.InvalidOptionalParameterStream);
                }

                var tag = BinaryPrimitives.ReadUInt16BigEndian(_body[_at..]);
                var length = BinaryPrimitives.ReadUInt16BigEndian(_body[(_at + 2)..]);
                _at += 4;
                if (length > _body.Length - _at)
                {
                    throw new SmppProtocolException($"TLV 0x{tag:X4} claims {length} octets, {_body.Length - _at} left", SmppStatus.InvalidParameterLength);
                }

                (tlvs ??= []).Add(new SmppTlv(tag, _body.Slice(_at, length).ToArray()));
                _at += length;
            }

            return tlvs is null ? [] : tlvs;
        }
    }

    private readonly ref struct Writer(ArrayBufferWriter<byte> buffer)
    {
        public void Byte(byte value) => buffer.Write([value]);

        public void UInt32(uint value)
        {
            BinaryPrimitives.WriteUInt32BigEndian(buffer.GetSpan(4), value);
            buffer.Advance(4);
        }

        public void Bytes(ReadOnlySpan<byte> value) => buffer.Write(value);

        public void CString(string value, int max)
        {
            var count = Ascii.GetByteCount(value);
            if (count >= max || value.Contains('\0', StringComparison.Ordinal))
            {
                throw new ArgumentException($"a C-octet string field is longer than {max - 1} characters or holds a NUL");
            }

            Ascii.GetBytes(value, buffer.GetSpan(count));
            buffer.Advance(count);
            Byte(0);
        }

        public void Tlvs(IReadOnlyList<SmppTlv> tlvs)
        {
            foreach (var tlv in tlvs)
            {
                if (tlv.Value.Length > ushort.MaxValue)
                {
                    throw new ArgumentException($"TLV 0x{tlv.Tag:X4} is longer than 65535 octets");
                }

                var span = buffer.GetSpan(4);
                BinaryPrimitives.WriteUInt16BigEndian(span, tlv.Tag);
                BinaryPrimitives.WriteUInt16BigEndian(span[2..], (ushort)tlv.Value.Length);
                buffer.Advance(4);
                Bytes(tlv.Value);
            }
        }
    }
}
