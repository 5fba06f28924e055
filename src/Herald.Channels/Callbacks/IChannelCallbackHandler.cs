using Herald.Core.Providers;
using Microsoft.AspNetCore.Http;

namespace Herald.Channels.Callbacks;

/// <summary>
/// A channel's inbound HTTP side: verifies a provider's request and parses it into what it brought, per account. The
/// host serves every handler on one route, <c>/callbacks/{kind}/{accountId}</c>, plus its channel's older paths
/// (<see cref="ChannelPlugin.CallbackAliases"/>); it does the parts every channel shares, in this order: finds the account (404 when the path
/// names none of this kind), asks <see cref="Admit"/> (checks that need no body: a token, a secret header), reads the
/// body with <see cref="MaxBodyBytes"/> enforced while it streams in (413), then <see cref="Read"/>, and hands each
/// batch to the <see cref="IReceiptSink"/>. A handler never reads the body itself and keeps no state per request.
/// </summary>
public interface IChannelCallbackHandler
{
    /// <summary>The <see cref="ProviderAccount.Kind"/> whose callbacks this reads: the <c>{kind}</c> of the route.</summary>
    string Kind { get; }

    /// <summary>The largest body taken: a request crossing it is refused while it streams in.</summary>
    int MaxBodyBytes { get; }

    /// <summary>
    /// Before the body is read: resolves the account of an alias that names none (<paramref name="request"/>'s
    /// <see cref="CallbackRequest.Account"/> is then null and may be set here) and checks what needs no body. Null to go
    /// on, else the refusal.
    /// </summary>
    CallbackRefusal? Admit(CallbackRequest request);

    /// <summary>Verifies the body (a signature over it) and parses it. Refuses with 401/403 for a bad signature and 400
    /// for a malformed body; never throws for what a provider (or a stranger) sent.</summary>
    CallbackResult Read(CallbackRequest request, ReadOnlySpan<byte> body, DateTimeOffset now);
}

/// <summary>An older path of a channel's callbacks, relative to <c>/callbacks</c>.</summary>
/// <param name="Method">GET or POST.</param>
/// <param name="Pattern">A route pattern; one with an <c>{accountId:guid}</c> parameter names the account like the
/// generic route, one without leaves it to <see cref="IChannelCallbackHandler.Admit"/> or
/// <see cref="IChannelCallbackHandler.Read"/> to match (WhatsApp's by the body, Telegram's by the path secret).</param>
public sealed record CallbackAlias(string Method, string Pattern);

/// <summary>One callback request as a handler sees it.</summary>
public sealed class CallbackRequest(HttpRequest http, ProviderAccount? account)
{
    public HttpRequest Http { get; } = http;

    /// <summary>The account the path named (generic route and account aliases), or the one
    /// <see cref="IChannelCallbackHandler.Admit"/> matched; null while an alias's account is not known yet.</summary>
    public ProviderAccount? Account { get; set; } = account;

    /// <summary>Whether the request came on the generic route or an alias that names the account by id.</summary>
    public bool NamedAccount { get; } = account is not null;
}

/// <summary>A refused callback, answered as problem+json; nothing it carried is taken.</summary>
/// <param name="LogReason">Why, for the log (never the secret or body).</param>
/// <param name="Errors">Located errors (JSON Pointer, detail) of a malformed body.</param>
public sealed record CallbackRefusal(
    int Status, string Type, string Title, string LogReason, string? Detail = null, IReadOnlyList<(string Pointer, string Detail)>? Errors = null)
{
    public static CallbackRefusal Unauthorized(string title, string logReason) => new(StatusCodes.Status401Unauthorized, "unauthorized", title, logReason);

    public static CallbackRefusal Forbidden(string title, string logReason) => new(StatusCodes.Status403Forbidden, "forbidden", title, logReason);

    public static CallbackRefusal Malformed(string title, string detail, string logReason, IReadOnlyList<(string Pointer, string Detail)>? errors = null) =>
        new(StatusCodes.Status400BadRequest, "validation", title, logReason, detail, errors);
}

/// <summary>How a taken callback is answered: the status the provider expects (some retry on anything else).</summary>
public enum CallbackReply
{
    Ok,
    NoContent,

    /// <summary>200 with <see cref="CallbackResult.Text"/> as text/plain (a subscription handshake's echo).</summary>
    Text,
}

/// <summary>What <see cref="IChannelCallbackHandler.Read"/> made of a request: a refusal, or the batches it carried
/// (possibly none: a report about nothing Herald sent is taken and ignored, so the provider does not retry it).</summary>
public sealed record CallbackResult(IReadOnlyList<InboundBatch> Batches, CallbackReply Reply, string? Text = null, CallbackRefusal? Refusal = null)
{
    public static CallbackResult Refused(CallbackRefusal refusal) => new([], CallbackReply.Ok, null, refusal);

    public static CallbackResult Taken(CallbackReply reply, params IReadOnlyList<InboundBatch> batches) => new(batches, reply);
}
