using System.Globalization;
using System.Net.Http.Headers;
using System.Security.Cryptography;
using System.Text;
using Herald.Sandbox.Mailbox;
using Herald.Sandbox.Settings;
using Herald.Sandbox.Throttling;

namespace Herald.Sandbox.Sms;

/// <summary>
/// Twilio's <c>POST /2010-04-01/Accounts/{AccountSid}/Messages.json</c>: form parameters in, Twilio's validation
/// errors and message resource out; records what the customer received and schedules signed status callbacks
/// (<c>sent</c>, then <c>delivered</c>) to the request's <c>StatusCallback</c>. Accepts any Basic credentials and signs
/// callbacks with the password given (the auth token), so the client can verify them with its own token.
/// </summary>
public sealed class TwilioSimulator(
    SandboxSettings settings,
    SandboxMailbox mailbox,
    SandboxRateLimiter rateLimiter,
    SandboxStats stats,
    TwilioCallbackDispatcher callbacks,
    TimeProvider time)
{
    /// <summary>Channel name used in the mailbox and stats.</summary>
    public const string ChannelName = "sms";

    /// <summary>Twilio's limit on a message body.</summary>
    private const int MaxBodyLength = 1600;

    // Sender reported in callbacks when a Messaging Service picked it (Twilio's magic test number).
    private const string PoolSender = "+15005550006";

    /// <summary>Handles one Messages.json create.</summary>
    public async Task<IResult> SendAsync(HttpContext context, string accountSid, CancellationToken cancellationToken)
    {
        var current = settings.Current;
        if (current.LatencyMs > 0)
        {
            await Task.Delay(TimeSpan.FromMilliseconds(current.LatencyMs), time, cancellationToken).ConfigureAwait(false);
        }

        if (AuthToken(context.Request) is not { } authToken)
        {
            stats.Rejected(ChannelName, accountSid);
            return TwilioApiErrors.Authenticate();
        }

        var rate = rateLimiter.TryAcquire(ChannelName + ":" + accountSid, current.RatePerSecond);
        if (!rate.Allowed)
        {
            stats.RateLimited(ChannelName, accountSid);
            return TwilioApiErrors.TooManyRequests(rate.RetryAfterSeconds);
        }

        var form = context.Request.HasFormContentType
            ? await context.Request.ReadFormAsync(cancellationToken).ConfigureAwait(false)
            : FormCollection.Empty;
        var to = form["To"].ToString().Trim();
        var from = form["From"].ToString().Trim();
        var service = form["MessagingServiceSid"].ToString().Trim();
        var body = form["Body"].ToString();
        var statusCallback = form["StatusCallback"].ToString().Trim();

        if (Validate(to, from, service, body, statusCallback) is { } invalid)
        {
            stats.Rejected(ChannelName, accountSid);
            return invalid;
        }

        if (to.EndsWith(MagicRecipients.InvalidSmsNumber, StringComparison.Ordinal))
        {
            // Magic recipient: a number that cannot exist, as Twilio reports it synchronously.
            stats.Rejected(ChannelName, accountSid);
            return TwilioApiErrors.BadRequest(21211, $"Invalid 'To' Phone Number: {Mask(to)}");
        }

        if (current.FailureRate > 0 && Random.Shared.NextDouble() < current.FailureRate)
        {
            stats.Failed(ChannelName, accountSid);
            return TwilioApiErrors.InternalError();
        }

        var sid = "SM" + Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(16));
        var now = time.GetUtcNow();
        mailbox.Add(new SandboxMessage(ChannelName, to, body, null, sid, now, accountSid)
        {
            ReplyRoute = statusCallback.Length > 0 ? new SandboxReplyRoute(statusCallback, authToken, from.Length > 0 ? from : PoolSender) : null,
            Credential = SandboxMessage.CredentialOf(authToken),
        });
        stats.Accepted(ChannelName, accountSid);
        if (statusCallback.Length > 0)
        {
            callbacks.Schedule(
                new SmsStatusCallback
                {
                    Url = statusCallback,
                    AuthToken = authToken,
                    AccountSid = accountSid,
                    MessageSid = sid,
                    From = from.Length > 0 ? from : PoolSender,
                    To = to,
                    MessagingServiceSid = service.Length > 0 ? service : null,
                    Status = "sent",
                    Next = "delivered",
                },
                current.ReceiptDelayMs);
        }

        return Results.Json(Resource(accountSid, sid, to, from, service, body, now), statusCode: StatusCodes.Status201Created);
    }

    private static IResult? Validate(string to, string from, string service, string body, string statusCallback)
    {
        if (to.Length == 0)
        {
            return TwilioApiErrors.BadRequest(21604, "A 'To' phone number is required.");
        }

        if (from.Length == 0 && service.Length == 0)
        {
            return TwilioApiErrors.BadRequest(21603, "A 'From' or 'MessagingServiceSid' parameter is required to send a message.");
        }

        if (string.IsNullOrEmpty(body))
        {
            return TwilioApiErrors.BadRequest(21602, "Message body is required.");
        }

        if (!IsE164(to))
        {
            return TwilioApiErrors.BadRequest(21211, $"Invalid 'To' Phone Number: {Mask(to)}");
        }

        if (body.Length > MaxBodyLength)
        {
            return TwilioApiErrors.BadRequest(21617, "The concatenated message body exceeds the 1600 character limit.");
        }

        if (statusCallback.Length > 0
            && !(Uri.TryCreate(statusCallback, UriKind.Absolute, out var uri) && (uri.Scheme == Uri.UriSchemeHttp || uri.Scheme == Uri.UriSchemeHttps)))
        {
            return TwilioApiErrors.BadRequest(21609, "Invalid StatusCallback URL.");
        }

        return null;
    }

    private object Resource(string accountSid, string sid, string to, string from, string service, string body, DateTimeOffset now)
    {
        var uri = $"/2010-04-01/Accounts/{accountSid}/Messages/{sid}";
        var date = now.ToString("ddd, dd MMM yyyy HH:mm:ss '+0000'", CultureInfo.InvariantCulture);
        return new Dictionary<string, object?>
        {
            ["account_sid"] = accountSid,
            ["api_version"] = "2010-04-01",
            ["body"] = body,
            ["date_created"] = date,
            ["date_sent"] = null,
            ["date_updated"] = date,
            ["direction"] = "outbound-api",
            ["error_code"] = null,
            ["error_message"] = null,
            // With only a Messaging Service, Twilio answers "accepted" and picks the sender later.
            ["from"] = from.Length > 0 ? from : null,
            ["messaging_service_sid"] = service.Length > 0 ? service : null,
            ["num_media"] = "0",
            ["num_segments"] = Segments(body).ToString(CultureInfo.InvariantCulture),
            ["price"] = null,
            ["price_unit"] = "USD",
            ["sid"] = sid,
            ["status"] = from.Length > 0 ? "queued" : "accepted",
            ["subresource_uris"] = new Dictionary<string, string> { ["media"] = uri + "/Media.json" },
            ["to"] = to,
            ["uri"] = uri + ".json",
        };
    }

    /// <summary>The password of <c>Authorization: Basic</c>, or null when the header is missing or unusable.</summary>
    private static string? AuthToken(HttpRequest request)
    {
        if (!AuthenticationHeaderValue.TryParse(request.Headers.Authorization.ToString(), out var header)
            || !string.Equals(header.Scheme, "Basic", StringComparison.OrdinalIgnoreCase) || header.Parameter is null)
        {
            return null;
        }

        string decoded;
        try
        {
            decoded = Encoding.UTF8.GetString(Convert.FromBase64String(header.Parameter));
        }
        catch (FormatException)
        {
            return null;
        }

        var colon = decoded.IndexOf(':', StringComparison.Ordinal);
        return colon > 0 && colon < decoded.Length - 1 ? decoded[(colon + 1)..] : null;
    }

    private static bool IsE164(string to)
    {
        if (to.Length is < 3 or > 16 || to[0] != '+' || to[1] == '0')
        {
            return false;
        }

        foreach (var c in to.AsSpan(1))
        {
            if (!char.IsAsciiDigit(c))
            {
                return false;
            }
        }

        return true;
    }

    // Twilio echoes the number; a sandbox log line is no reason to print more of it than needed.
    private static string Mask(string to) => to.Length > 4 ? new string('*', to.Length - 4) + to[^4..] : to;

    /// <summary>Segments as carriers count them: GSM-7 160 (153 per part), else UCS-2 70 (67 per part).</summary>
    public static int Segments(string body)
    {
        var gsm = true;
        var septets = 0;
        foreach (var c in body)
        {
            if (GsmBasic.Contains(c))
            {
                septets++;
            }
            else if (GsmExtension.Contains(c))
            {
                septets += 2;
            }
            else
            {
                gsm = false;
                break;
            }
        }

        var (units, single, part) = gsm ? (septets, 160, 153) : (body.Length, 70, 67);
        return units <= single ? 1 : (units + part - 1) / part;
    }

    private const string GsmBasic =
        "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà";

    private const string GsmExtension = "^{}\\[~]|€\f";
}
