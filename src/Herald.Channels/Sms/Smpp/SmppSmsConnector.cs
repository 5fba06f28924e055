using Herald.Channels.Callbacks;
using Herald.Core.Delivery;
using Herald.Core.Notifications;
using Herald.Core.Providers;

namespace Herald.Channels.Sms.Smpp;

/// <summary>
/// Sends SMS over SMPP 3.4 through a long-lived bind_transceiver session per account (<see cref="SmppSessions"/>).
/// The text goes as GSM 03.38 (data_coding 0x00) when every character fits, else UCS-2 (0x08); a long text goes
/// as concatenated parts with a UDH. submit_sm_resp ESME_ROK is <see cref="SendOutcomeKind.Accepted"/> with the
/// first part's message_id; the message ids of every part of a concatenated message are recorded through
/// <see cref="IReceiptSink.RecordPartsAsync"/>. Receipts (one per part) arrive as deliver_sm on the same
/// session and go to the <see cref="IReceiptSink"/>.
/// </summary>
public sealed class SmppSmsConnector(SmppSessions sessions) : IChannelConnector
{
    public const string ConnectorKind = "smpp";

    private readonly AccountSettingsCache<SmppSettings> _settings = new(SmppSettings.Parse);

    public string Kind => ConnectorKind;

    public Channel Channel => Channel.Sms;

    public async Task<SendOutcome> SendAsync(OutboundMessage message, ProviderAccount account, CancellationToken ct)
    {
        var settings = _settings.Get(account, out var settingsError);
        if (settings is null)
        {
            return AccountSettings.Unusable(settingsError);
        }

        var to = Destination(message.To);
        if (to is null)
        {
            return SendOutcome.Permanent("invalid_address", "recipient phone number has no digits or more than 20");
        }

        var encoded = SmsText.Encode(message.Text, SmsText.ReferenceFor(message.NotificationId));
        if (encoded is null)
        {
            return SendOutcome.Permanent("message_too_long", $"the text needs more than {SmsText.MaxParts} SMS parts");
        }

        var outcome = await sessions.Link(account, settings).SendAsync(message.AttemptId, Parts(encoded, to, settings), message.NextPartPermit, ct).ConfigureAwait(false);
        // The SMSC bills every submit_sm: the price for the destination times the parts actually sent.
        return outcome.Kind == SendOutcomeKind.Accepted
            ? outcome with { Cost = Pricing.SmsCost(account, message.To, encoded.Parts.Count) }
            : outcome;
    }

    internal static List<SmppShortMessage> Parts(SmsEncoding encoded, string to, SmppSettings settings)
    {
        var parts = new List<SmppShortMessage>(encoded.Parts.Count);
        foreach (var part in encoded.Parts)
        {
            parts.Add(new SmppShortMessage
            {
                SourceTon = settings.SourceTon,
                SourceNpi = settings.SourceNpi,
                SourceAddr = settings.SourceAddr,
                DestTon = settings.DestTon,
                DestNpi = settings.DestNpi,
                DestinationAddr = to,
                EsmClass = encoded.IsConcatenated ? SmppFlags.EsmUdhi : (byte)0,
                RegisteredDelivery = settings.RegisteredDelivery ? SmppFlags.RegisteredDeliveryFinal : (byte)0,
                DataCoding = encoded.DataCoding,
                ShortMessage = part,
            });
        }

        return parts;
    }

    /// <summary>The digits of the address (international format without "+", as TON 1 wants); null when unusable.</summary>
    internal static string? Destination(string address)
    {
        var digits = new string([.. address.Where(char.IsAsciiDigit)]);
        return digits.Length is > 0 and <= 20 ? digits : null;
    }
}
