namespace Herald.Channels.Sms.Smpp;

/// <summary>SMPP 3.4 command ids (§5.1.2.1). A response is its request's id with bit 31 set.</summary>
public static class SmppCommand
{
    public const uint GenericNack = 0x80000000;
    public const uint BindReceiver = 0x00000001;
    public const uint BindReceiverResp = 0x80000001;
    public const uint BindTransmitter = 0x00000002;
    public const uint BindTransmitterResp = 0x80000002;
    public const uint SubmitSm = 0x00000004;
    public const uint SubmitSmResp = 0x80000004;
    public const uint DeliverSm = 0x00000005;
    public const uint DeliverSmResp = 0x80000005;
    public const uint Unbind = 0x00000006;
    public const uint UnbindResp = 0x80000006;
    public const uint BindTransceiver = 0x00000009;
    public const uint BindTransceiverResp = 0x80000009;
    public const uint EnquireLink = 0x00000015;
    public const uint EnquireLinkResp = 0x80000015;

    /// <summary>Whether the id is a response (bit 31).</summary>
    public static bool IsResponse(uint commandId) => (commandId & 0x80000000) != 0;

    /// <summary>Whether the id is one of the three binds.</summary>
    public static bool IsBind(uint commandId) => commandId is BindReceiver or BindTransmitter or BindTransceiver;

    public static string Name(uint commandId) => commandId switch
    {
        GenericNack => "generic_nack",
        BindReceiver => "bind_receiver",
        BindReceiverResp => "bind_receiver_resp",
        BindTransmitter => "bind_transmitter",
        BindTransmitterResp => "bind_transmitter_resp",
        SubmitSm => "submit_sm",
        SubmitSmResp => "submit_sm_resp",
        DeliverSm => "deliver_sm",
        DeliverSmResp => "deliver_sm_resp",
        Unbind => "unbind",
        UnbindResp => "unbind_resp",
        BindTransceiver => "bind_transceiver",
        BindTransceiverResp => "bind_transceiver_resp",
        EnquireLink => "enquire_link",
        EnquireLinkResp => "enquire_link_resp",
        _ => $"0x{commandId:X8}",
    };
}

/// <summary>SMPP 3.4 command_status values (§5.1.3) that Herald sends or maps.</summary>
public static class SmppStatus
{
    public const uint Ok = 0x00;                    // ESME_ROK
    public const uint InvalidMessageLength = 0x01;  // ESME_RINVMSGLEN
    public const uint InvalidCommandLength = 0x02;  // ESME_RINVCMDLEN
    public const uint InvalidCommandId = 0x03;      // ESME_RINVCMDID
    public const uint InvalidBindStatus = 0x04;     // ESME_RINVBNDSTS
    public const uint AlreadyBound = 0x05;          // ESME_RALYBND
    public const uint SystemError = 0x08;           // ESME_RSYSERR
    public const uint InvalidSourceAddress = 0x0A;  // ESME_RINVSRCADR
    public const uint InvalidDestinationAddress = 0x0B; // ESME_RINVDSTADR
    public const uint InvalidMessageId = 0x0C;      // ESME_RINVMSGID
    public const uint BindFailed = 0x0D;            // ESME_RBINDFAIL
    public const uint InvalidPassword = 0x0E;       // ESME_RINVPASWD
    public const uint InvalidSystemId = 0x0F;       // ESME_RINVSYSID
    public const uint MessageQueueFull = 0x14;      // ESME_RMSGQFUL
    public const uint InvalidEsmClass = 0x43;       // ESME_RINVESMCLASS
    public const uint SubmitFailed = 0x45;          // ESME_RSUBMITFAIL
    public const uint InvalidSourceTon = 0x48;      // ESME_RINVSRCTON
    public const uint InvalidSourceNpi = 0x49;      // ESME_RINVSRCNPI
    public const uint InvalidDestinationTon = 0x50; // ESME_RINVDSTTON
    public const uint InvalidDestinationNpi = 0x51; // ESME_RINVDSTNPI
    public const uint InvalidSystemType = 0x53;     // ESME_RINVSYSTYP
    public const uint Throttled = 0x58;             // ESME_RTHROTTLED
    public const uint InvalidScheduleTime = 0x61;   // ESME_RINVSCHED
    public const uint InvalidExpiry = 0x62;         // ESME_RINVEXPIRY
    public const uint TemporaryAppError = 0x64;     // ESME_RX_T_APPN
    public const uint PermanentAppError = 0x65;     // ESME_RX_P_APPN
    public const uint RejectedAppError = 0x66;      // ESME_RX_R_APPN
    public const uint InvalidOptionalParameterStream = 0xC0; // ESME_RINVOPTPARSTREAM
    public const uint InvalidParameterLength = 0xC2; // ESME_RINVPARLEN
    public const uint DeliveryFailure = 0xFE;       // ESME_RDELIVERYFAILURE
    public const uint UnknownError = 0xFF;          // ESME_RUNKNOWNERR

    /// <summary>The ESME_R… name of a status, or its hex value when not one Herald knows.</summary>
    public static string Name(uint status) => status switch
    {
        Ok => "ESME_ROK",
        InvalidMessageLength => "ESME_RINVMSGLEN",
        InvalidCommandLength => "ESME_RINVCMDLEN",
        InvalidCommandId => "ESME_RINVCMDID",
        InvalidBindStatus => "ESME_RINVBNDSTS",
        AlreadyBound => "ESME_RALYBND",
        SystemError => "ESME_RSYSERR",
        InvalidSourceAddress => "ESME_RINVSRCADR",
        InvalidDestinationAddress => "ESME_RINVDSTADR",
        InvalidMessageId => "ESME_RINVMSGID",
        BindFailed => "ESME_RBINDFAIL",
        InvalidPassword => "ESME_RINVPASWD",
        InvalidSystemId => "ESME_RINVSYSID",
        MessageQueueFull => "ESME_RMSGQFUL",
        InvalidEsmClass => "ESME_RINVESMCLASS",
        SubmitFailed => "ESME_RSUBMITFAIL",
        InvalidSourceTon => "ESME_RINVSRCTON",
        InvalidSourceNpi => "ESME_RINVSRCNPI",
        InvalidDestinationTon => "ESME_RINVDSTTON",
        InvalidDestinationNpi => "ESME_RINVDSTNPI",
        InvalidSystemType => "ESME_RINVSYSTYP",
        Throttled => "ESME_RTHROTTLED",
        InvalidScheduleTime => "ESME_RINVSCHED",
        InvalidExpiry => "ESME_RINVEXPIRY",
        TemporaryAppError => "ESME_RX_T_APPN",
        PermanentAppError => "ESME_RX_P_APPN",
        RejectedAppError => "ESME_RX_R_APPN",
        InvalidOptionalParameterStream => "ESME_RINVOPTPARSTREAM",
        InvalidParameterLength => "ESME_RINVPARLEN",
        DeliveryFailure => "ESME_RDELIVERYFAILURE",
        UnknownError => "ESME_RUNKNOWNERR",
        _ => $"0x{status:X8}",
    };
}

/// <summary>Optional parameter tags (§5.3.2) Herald reads or writes.</summary>
public static class SmppTag
{
    public const ushort ReceiptedMessageId = 0x001E;
    public const ushort MessageState = 0x0427;
    public const ushort MessagePayload = 0x0424;
    public const ushort NetworkErrorCode = 0x0423;
    public const ushort ScInterfaceVersion = 0x0210;
}

/// <summary>message_state values (§5.2.28).</summary>
public static class SmppMessageState
{
    public const byte Enroute = 1;
    public const byte Delivered = 2;
    public const byte Expired = 3;
    public const byte Deleted = 4;
    public const byte Undeliverable = 5;
    public const byte Accepted = 6;
    public const byte Unknown = 7;
    public const byte Rejected = 8;
}

/// <summary>esm_class and data_coding bits Herald uses.</summary>
public static class SmppFlags
{
    /// <summary>esm_class message type "SMSC delivery receipt" (bits 5-2 = 0001).</summary>
    public const byte EsmDeliveryReceipt = 0x04;

    /// <summary>esm_class GSM feature "UDHI indicator": short_message starts with a user data header.</summary>
    public const byte EsmUdhi = 0x40;

    /// <summary>data_coding: SMSC default alphabet (GSM 03.38, one septet per octet).</summary>
    public const byte DataCodingDefault = 0x00;

    /// <summary>data_coding: UCS-2 (UTF-16BE).</summary>
    public const byte DataCodingUcs2 = 0x08;

    /// <summary>registered_delivery: a receipt on final success or failure.</summary>
    public const byte RegisteredDeliveryFinal = 0x01;

    /// <summary>interface_version of SMPP 3.4.</summary>
    public const byte InterfaceVersion34 = 0x34;
}
