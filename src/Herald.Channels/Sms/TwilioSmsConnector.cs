using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using Herald.Core.Delivery;
using Herald.Core.Notifications;
using Herald.Core.Providers;

namespace Herald.Channels.Sms;

/// <summary>
/// Sends SMS through Twilio's Programmable Messaging REST API:
/// <c>POST {baseUrl}/2010-04-01/Accounts/{AccountSid}/Messages.json</c>, form-encoded <c>To</c>, <c>From</c> or
/// <c>MessagingServiceSid</c>, <c>Body</c> and <c>StatusCallback</c>, with HTTP Basic auth (AccountSid:AuthToken).
/// A 201 answer means Twilio queued the message (<see cref="SendOutcomeKind.Accepted"/>, provider message id = the
/// <c>SM…</c> sid); delivery arrives later as a status callback (<see cref="TwilioStatusCallback"/>). Twilio splits a
/// long body itself (one sid for every segment) and bills per segment: when the answer reports <c>num_segments</c>,
/// the attempt costs the account's price × that count, else the dispatcher's own segment estimate applies. Twilio
/// queues and paces by segment too, so with a rate limit every segment after the first takes a permit of its own
/// (<see cref="OutboundMessage.NextPartPermit"/>) before the one request goes; a segment held back sends nothing.
/// </summary>
public sealed class TwilioSmsConnector(IHttpClientFactory httpClients, TimeProvider time) : IChannelConnector
{
    public const string ConnectorKind = "twilio-sms";

    /// <summary>How errors name the far end.</summary>
    internal const string Api = "Twilio API";

    private readonly AccountSettingsCache<TwilioSettings> _settings = new(TwilioSettings.Parse);

    public string Kind => ConnectorKind;

    public Channel Channel => Channel.Sms;

    public async Task<SendOutcome> SendAsync(OutboundMessage message, ProviderAccount account, CancellationToken ct)
    {
        var settings = _settings.Get(account, out var settingsError);
        if (settings is null)
        {
            return AccountSettings.Unusable(settingsError);
        }

        var to = E164(message.To);
        if (to is null)
        {
            return SendOutcome.Permanent("invalid_address", "recipient phone number has no digits");
        }

        if (message.NextPartPermit is { } nextSegment)
        {
            for (var segment = 2; segment <= SmsSegments.Count(message.Text); segment++)
            {
                if (await nextSegment(ct).ConfigureAwait(false) is { } retryAfter)
                {
                    return SendOutcome.RateLimited(retryAfter);
                }
            }
        }

        using var request = new HttpRequestMessage(HttpMethod.Post, settings.MessagesUri);
        request.Headers.Authorization = new AuthenticationHeaderValue(
            "Basic", Convert.ToBase64String(Encoding.UTF8.GetBytes($"{settings.AccountSid}:{settings.AuthToken}")));
        request.Content = new FormUrlEncodedContent(Form(message, to, settings, account.Id));

        return await ConnectorHttp.SendAsync(
            httpClients.CreateClient(ChannelHttpClients.TwilioSms), request, r => ReadAsync(r, account, to, ct), Api, ct).ConfigureAwait(false);
    }

    private Task<SendOutcome> ReadAsync(HttpResponseMessage response, ProviderAccount account, string to, CancellationToken ct) =>
        ConnectorHttp.ReadJsonAnswerAsync(
            response, () => Error(response, null), root => Read(response, root, account, to), ct);

    private SendOutcome Read(HttpResponseMessage response, JsonElement root, ProviderAccount account, string to)
    {
        var status = (int)response.StatusCode;
        if (!response.IsSuccessStatusCode)
        {
            return Error(response, ProviderJson.Int32(root, "code"));
        }

        return ProviderJson.String(root, "sid") is { Length: > 0 } messageSid
            ? new SendOutcome(SendOutcomeKind.Accepted, ProviderMessageId: messageSid, Cost: Segments(root) is { } segments ? Pricing.SmsCost(account, to, segments) : null)
            : SendOutcome.Transient("malformed_response", $"HTTP {status} without a message sid");
    }

    /// <summary>The <c>num_segments</c> of a message resource (Twilio writes it as a string), when positive.</summary>
    internal static int? Segments(JsonElement resource)
    {
        if (!resource.TryGetProperty("num_segments", out var value))
        {
            return null;
        }

        var parsed = value.ValueKind switch
        {
            JsonValueKind.String when int.TryParse(value.GetString(), System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var n) => n,
            JsonValueKind.Number when value.TryGetInt32(out var n) => n,
            _ => 0,
        };
        return parsed > 0 ? parsed : null;
    }

    private SendOutcome Error(HttpResponseMessage response, int? code) =>
        TwilioErrors.Map(code, (int)response.StatusCode, ConnectorHttp.RetryAfter(response, time));

    internal static List<KeyValuePair<string, string>> Form(OutboundMessage message, string to, TwilioSettings settings, Guid accountId)
    {
        var form = new List<KeyValuePair<string, string>>(4) { new("To", to) };
        // With a Messaging Service, Twilio picks the sender from its pool; From, if also given, would override it.
        form.Add(settings.MessagingServiceSid is { } service ? new("MessagingServiceSid", service) : new("From", settings.From!));
        form.Add(new("Body", message.Text));
        if (settings.StatusCallbackFor(accountId) is { } callback)
        {
            form.Add(new("StatusCallback", callback));
        }

        return form;
    }

    /// <summary>"+" and the digits of the address (Twilio wants E.164 and rejects separators); null without digits.</summary>
    internal static string? E164(string address)
    {
        var builder = new StringBuilder(16).Append('+');
        foreach (var ch in address)
        {
            if (char.IsAsciiDigit(ch))
            {
                builder.Append(ch);
            }
        }

        return builder.Length > 1 ? builder.ToString() : null;
    }
}
