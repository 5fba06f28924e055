using Herald.Core.Delivery;

namespace Herald.Channels.Sms.Smpp;

/// <summary>Maps a submit_sm_resp command_status to an outcome (SMPP 3.4 §5.1.3).</summary>
public static class SmppErrors
{
    public static SendOutcome Map(uint status)
    {
        var (cls, pause) = Classify(status);
        var name = SmppStatus.Name(status);
        return ProviderErrors.Outcome(cls, pause, name, "SMSC (submit_sm_resp)", null);
    }

    private static (ProviderErrorClass, TimeSpan?) Classify(uint status) => status switch
    {
        SmppStatus.Throttled => (ProviderErrorClass.Throttled, TimeSpan.FromSeconds(1)),
        SmppStatus.MessageQueueFull => (ProviderErrorClass.Throttled, TimeSpan.FromSeconds(10)),

        // The recipient or this message: another try on SMS will not help.
        SmppStatus.InvalidDestinationAddress => (ProviderErrorClass.Permanent, null),
        SmppStatus.InvalidMessageLength => (ProviderErrorClass.Permanent, null),
        SmppStatus.PermanentAppError => (ProviderErrorClass.Permanent, null),
        SmppStatus.RejectedAppError => (ProviderErrorClass.Permanent, null),

        // Our account or its configuration (sender, TON/NPI, bind): no message gets through until an operator acts.
        SmppStatus.InvalidSourceAddress or SmppStatus.InvalidSourceTon or SmppStatus.InvalidSourceNpi
            or SmppStatus.InvalidDestinationTon or SmppStatus.InvalidDestinationNpi or SmppStatus.InvalidEsmClass
            or SmppStatus.BindFailed or SmppStatus.InvalidPassword or SmppStatus.InvalidSystemId
            or SmppStatus.InvalidSystemType => (ProviderErrorClass.AccountFault, null),

        // SMSC trouble, session state, anything else: retry later.
        _ => (ProviderErrorClass.Transient, null),
    };
}
