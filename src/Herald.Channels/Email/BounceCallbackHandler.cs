using System.Security.Cryptography;
using System.Text;
using Herald.Channels.Callbacks;
using Microsoft.AspNetCore.Http;

namespace Herald.Channels.Email;

/// <summary>
/// A bounce report that came back to an SMTP account's envelope sender, handed in by the bank's mail system (for
/// example a Postfix pipe transport into curl): the raw message, authenticated by the account's bounce token as a
/// bearer token (checked before the body is read). A failed recipient fails the attempt (error code
/// <c>bounced</c>); a report that is not a delivery status notification of a message Herald sent is accepted and
/// ignored, so the mail system does not retry it.
/// </summary>
public sealed class BounceCallbackHandler : IChannelCallbackHandler
{
    /// <summary>A bounce report carries headers only (RET=HDRS): 1 MiB is far above one.</summary>
    public const int MaxCallbackBytes = 1024 * 1024;

    public string Kind => SmtpEmailConnector.ConnectorKind;

    public int MaxBodyBytes => MaxCallbackBytes;

    public CallbackRefusal? Admit(CallbackRequest request)
    {
        if (!HttpMethods.IsPost(request.Http.Method))
        {
            return new(StatusCodes.Status405MethodNotAllowed, "method-not-allowed", "Bounce reports are posted.", "not a POST");
        }

        string? token;
        try
        {
            token = SmtpSettings.Parse(request.Account!.Settings).BounceToken;
        }
        catch (Exception e) when (e is FormatException or System.Text.Json.JsonException)
        {
            token = null;
        }

        return token is not null && BearerMatches(request.Http, token)
            ? null
            : CallbackRefusal.Unauthorized("The bounce token does not match the account's.", token is null ? "no bounce token configured" : "bad bounce token");
    }

    public CallbackResult Read(CallbackRequest request, ReadOnlySpan<byte> body, DateTimeOffset now)
    {
        using var stream = new MemoryStream(body.ToArray(), writable: false);
        var found = BounceReports.Parse(stream, now);
        return CallbackResult.Taken(CallbackReply.NoContent, found.Count == 0 ? [] : [new InboundBatch(request.Account!, found)]);
    }

    /// <summary><c>Authorization: Bearer {token}</c>, compared in constant time (over hashes, so not even the length
    /// shows).</summary>
    private static bool BearerMatches(HttpRequest request, string token)
    {
        var header = request.Headers.Authorization.FirstOrDefault();
        const string scheme = "Bearer ";
        if (header is null || !header.StartsWith(scheme, StringComparison.OrdinalIgnoreCase))
        {
            return false;
        }

        return CryptographicOperations.FixedTimeEquals(
            SHA256.HashData(Encoding.UTF8.GetBytes(header[scheme.Length..].Trim())), SHA256.HashData(Encoding.UTF8.GetBytes(token)));
    }
}
