using System.Security.Claims;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization;
using Herald.Core.Notifications;
using Herald.Ingest;
using Herald.Sandbox;
using Herald.Sandbox.Mailbox;
using Herald.Sandbox.Outages;
using Herald.Sandbox.Replies;
using Herald.Sandbox.Settings;
using Herald.Server.Audit;
using Herald.Server.Authentication;
using Herald.Server.Notifications;
using Herald.Storage;
using Microsoft.Extensions.Options;

namespace Herald.Server.SandboxBridge;

/// <summary>What one simulated customer's phone received through the tenant's own accounts, oldest first.</summary>
/// <param name="Id">Stable for the address within this process (a keyed hash, not the address), so a page can keep a
/// phone's place while the address itself is redacted for a viewer.</param>
/// <param name="Address">The recipient, normalised: <c>+</c> and digits for a number, the chat id, the e-mail address.</param>
public sealed record SandboxPhoneView(string Id, string Address, IReadOnlyList<SandboxBubbleView> Messages);

/// <summary>One message as a chat bubble.</summary>
/// <param name="Id">What <c>POST /v1/sandbox/replies</c> answers: <c>{channel}:{providerMessageId}</c>.</param>
/// <param name="Channel">whatsapp, telegram, sms, email.</param>
/// <param name="ProviderId">The tenant's provider account that sent it.</param>
/// <param name="Template">A template send: its name and parameters.</param>
/// <param name="Buttons">Reply choices the message offered (WhatsApp reply buttons, a Telegram inline keyboard).</param>
public sealed record SandboxBubbleView(
    string Id, string Channel, Guid ProviderId, string ProviderName, string ProviderMessageId, DateTimeOffset Time, string? Text,
    string? Subject, SandboxTemplate? Template, IReadOnlyList<SandboxButton>? Buttons)
{
    /// <summary>The notification this message was an attempt of, when Herald stored the attempt.</summary>
    public Guid? NotificationId { get; init; }

    /// <summary>The attempt's state as Herald knows it from the vendor's receipts (sent, delivered, read, failed): the
    /// page's ticks.</summary>
    public AttemptState? State { get; init; }
}

/// <summary>The answer of <c>GET /v1/sandbox/messages</c>.</summary>
public sealed record SandboxPhonesView(IReadOnlyList<SandboxPhoneView> Phones);

/// <summary>One of the tenant's accounts the sandbox serves, whether it is out, and the latency added to its sends
/// alone (on top of the sandbox-wide one).</summary>
public sealed record SandboxAccountControlView(Guid ProviderId, string Name, string Channel, string Kind, bool Outage, int LatencyMs);

/// <summary>The answer of <c>GET /v1/sandbox/controls</c>: the sandbox-wide latency and the tenant's accounts.</summary>
/// <param name="LatencyMs">Added before every simulated vendor answer, for every tenant (the sandbox is one).</param>
public sealed record SandboxControlsView(int LatencyMs, IReadOnlyList<SandboxAccountControlView> Accounts);

/// <summary>The body of <c>PUT /v1/sandbox/latency</c>.</summary>
public sealed record SandboxLatencyRequest(int? LatencyMs);

/// <summary>The body of <c>POST /v1/sandbox/replies</c>: the simulated customer answers one bubble.</summary>
/// <param name="MessageId">The bubble's <see cref="SandboxBubbleView.Id"/>.</param>
/// <param name="Text">What the customer types.</param>
/// <param name="ActionId">The button the customer taps, instead of typing.</param>
public sealed record SandboxBridgeReplyRequest(string? MessageId, string? Text, string? ActionId);

[JsonSourceGenerationOptions(JsonSerializerDefaults.Web, DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(SandboxPhonesView))]
[JsonSerializable(typeof(SandboxControlsView))]
[JsonSerializable(typeof(SandboxLatencyRequest))]
[JsonSerializable(typeof(SandboxBridgeReplyRequest))]
public sealed partial class SandboxBridgeJson : JsonSerializerContext;

/// <summary>
/// <c>/v1/sandbox</c>: the in-process sandbox as one tenant may see it. The sandbox's own <c>/sandbox/...</c> read and
/// control endpoints are the operator's (every tenant's recipients and texts; settings that shape every tenant's
/// deliveries); this bridge shows a tenant only what the simulators received through its own provider accounts
/// (matched by account and secret, <see cref="SandboxIdentity"/>), lets an <c>admin</c> put its own accounts out and
/// set the sandbox's latency (audited), and lets a simulated customer answer one of its messages. It exists only where
/// the sandbox runs in this process; elsewhere every path is 404.
/// </summary>
public static class SandboxBridgeApi
{
    /// <summary>Bubbles kept per phone, newest.</summary>
    public const int MaxPerPhone = 50;

    /// <summary>Phones answered, most recently written to first.</summary>
    public const int MaxPhones = 50;

    /// <summary>Largest latency the page may set: enough to show a timeout's fallback, short of stalling the demo.</summary>
    public const int MaxLatencyMs = 30_000;

    private const int MaxBodyBytes = 8 * 1024;

    // Keys the phones' ids: stable while the process runs, meaningless outside it.
    private static readonly byte[] PhoneIdKey = RandomNumberGenerator.GetBytes(32);

    public static IEndpointRouteBuilder MapSandboxBridgeApi(this IEndpointRouteBuilder app)
    {
        var group = app.MapGroup("/v1/sandbox").WithTags("Sandbox").AddEndpointFilter(InProcessOnlyAsync);
        group.MapGet("/messages", MessagesAsync).RequireAuthorization(Policies.Read)
            .WithName("listSandboxPhones")
            .WithSummary("What the in-process sandbox received through the tenant's own provider accounts, one phone per recipient")
            .Produces<SandboxPhonesView>()
            .ProducesProblems(StatusCodes.Status404NotFound);
        group.MapGet("/controls", ControlsAsync).RequireAuthorization(Policies.Read)
            .WithName("getSandboxControls").WithSummary("The sandbox's latency and which of the tenant's sandbox accounts are out")
            .Produces<SandboxControlsView>()
            .ProducesProblems(StatusCodes.Status404NotFound);
        group.MapPut("/outages/{providerId:guid}", (Guid providerId, HttpContext context, ClaimsPrincipal user, IProviderStore store, SandboxOutages outages, CancellationToken ct) =>
                SetOutageAsync(providerId, true, context, user, store, outages, ct))
            .RequireAuthorization(Policies.Admin)
            .WithName("startSandboxOutage").WithSummary("Puts one of the tenant's sandbox accounts out: the simulator answers its sends as the vendor does in an outage")
            .Produces<SandboxControlsView>()
            .ProducesProblems(StatusCodes.Status404NotFound);
        group.MapDelete("/outages/{providerId:guid}", (Guid providerId, HttpContext context, ClaimsPrincipal user, IProviderStore store, SandboxOutages outages, CancellationToken ct) =>
                SetOutageAsync(providerId, false, context, user, store, outages, ct))
            .RequireAuthorization(Policies.Admin)
            .WithName("endSandboxOutage").WithSummary("Ends the simulated outage of one of the tenant's sandbox accounts")
            .Produces<SandboxControlsView>()
            .ProducesProblems(StatusCodes.Status404NotFound);
        group.MapPut("/latency", SetLatencyAsync).RequireAuthorization(Policies.Admin)
            .WithName("setSandboxLatency").WithSummary("Sets the latency the sandbox adds to every simulated vendor answer (every tenant's)")
            .Accepts<SandboxLatencyRequest>("application/json")
            .Produces<SandboxControlsView>()
            .ProducesProblems(StatusCodes.Status404NotFound, StatusCodes.Status413PayloadTooLarge, StatusCodes.Status415UnsupportedMediaType);
        group.MapPut("/latency/{providerId:guid}", SetAccountLatencyAsync).RequireAuthorization(Policies.Admin)
            .WithName("setSandboxAccountLatency").WithSummary("Sets the latency the sandbox adds to one of the tenant's sandbox accounts' sends (that account's only)")
            .Accepts<SandboxLatencyRequest>("application/json")
            .Produces<SandboxControlsView>()
            .ProducesProblems(StatusCodes.Status404NotFound, StatusCodes.Status413PayloadTooLarge, StatusCodes.Status415UnsupportedMediaType);
        group.MapPost("/replies", ReplyAsync).RequireAuthorization(Policies.Send)
            .WithName("replyInSandbox").WithSummary("A simulated customer answers one of the tenant's sandbox messages (a tapped button or typed text)")
            .Accepts<SandboxBridgeReplyRequest>("application/json")
            .Produces(StatusCodes.Status202Accepted)
            .ProducesProblems(StatusCodes.Status404NotFound, StatusCodes.Status409Conflict, StatusCodes.Status413PayloadTooLarge, StatusCodes.Status415UnsupportedMediaType);
        return app;
    }

    /// <summary>The normalised recipient a phone is grouped by: <c>+digits</c> for a number (with or without the plus,
    /// spaces or dashes as sent), the chat id, the e-mail address in lower case.</summary>
    public static string Normalise(string channel, string address)
    {
        var trimmed = address.Trim();
        if (channel is "whatsapp" or "sms")
        {
            var digits = new string([.. trimmed.Where(char.IsAsciiDigit)]);
            return digits.Length > 0 ? "+" + digits : trimmed;
        }

        return channel == "email" ? trimmed.ToLowerInvariant() : trimmed;
    }

    private static async ValueTask<object?> InProcessOnlyAsync(EndpointFilterInvocationContext context, EndpointFilterDelegate next)
    {
        // Mapped with the API on every role; answers only where the simulators run in this process (they are mapped,
        // and hold their mailbox, exactly when the sandbox is enabled on an API-serving node).
        var options = context.HttpContext.RequestServices.GetRequiredService<IOptions<SandboxOptions>>().Value;
        return options.Enabled
            ? await next(context)
            : Problems.Result(StatusCodes.Status404NotFound, "not-found", "No sandbox runs in this process.",
                "The sandbox page needs the sandbox in the same process: the embedded demo, or role all with Herald:Sandbox:Enabled.");
    }

    private static async Task<IResult> MessagesAsync(
        ClaimsPrincipal user, IProviderStore store, IDeliveryStore deliveries, SandboxMailbox mailbox, string? recipient, string? channel,
        DateTimeOffset? after, CancellationToken ct)
    {
        var errors = new List<InputError>();
        if (channel is not (null or "" or "whatsapp" or "telegram" or "sms" or "email"))
        {
            errors.Add(new InputError("/channel", "One of whatsapp, telegram, sms, email."));
        }

        if (errors.Count > 0)
        {
            return Problems.Invalid(errors, "The query is invalid.");
        }

        var tenantId = user.TenantId();
        var identities = SandboxIdentities.Of(await store.ListAsync(tenantId, ct));
        var wanted = string.IsNullOrWhiteSpace(recipient) ? null : recipient.Trim();
        var phones = new Dictionary<string, List<SandboxBubbleView>>(StringComparer.Ordinal);
        foreach (var message in mailbox.Find(string.IsNullOrEmpty(channel) ? null : channel))
        {
            if ((after is { } since && message.Time <= since) || Owner(identities, message) is not { } identity)
            {
                continue;
            }

            var address = Normalise(message.Channel, message.To);
            if (wanted is not null && address != Normalise(message.Channel, wanted))
            {
                continue;
            }

            if (!phones.TryGetValue(address, out var bubbles))
            {
                phones[address] = bubbles = [];
            }

            bubbles.Add(Bubble(message, identity));
        }

        var shown = phones
            .OrderByDescending(static p => p.Value[^1].Time)
            .Take(MaxPhones)
            .Select(p => (p.Key, Bubbles: p.Value.Count > MaxPerPhone ? p.Value[^MaxPerPhone..] : p.Value))
            .ToList();
        var attempts = await AttemptsAsync(deliveries, shown.SelectMany(static p => p.Bubbles.Select(b => (Address: p.Key, Bubble: b))), ct);
        var view = shown
            .Select(p => new SandboxPhoneView(PhoneId(tenantId, p.Key), p.Key, [.. p.Bubbles.Select(b => WithAttempt(b, attempts))]))
            .ToList();
        return TypedResults.Json(new SandboxPhonesView(view), SandboxBridgeJson.Default.SandboxPhonesView);
    }

    private static async Task<IResult> ControlsAsync(
        ClaimsPrincipal user, IProviderStore store, SandboxOutages outages, SandboxSettings settings, CancellationToken ct) =>
        TypedResults.Json(await ControlsViewAsync(user.TenantId(), store, outages, settings, ct), SandboxBridgeJson.Default.SandboxControlsView);

    private static async Task<IResult> SetOutageAsync(
        Guid providerId, bool outage, HttpContext context, ClaimsPrincipal user, IProviderStore store, SandboxOutages outages, CancellationToken ct)
    {
        var tenantId = user.TenantId();
        if (await store.GetAsync(tenantId, providerId, ct) is not { } account || SandboxIdentities.Of([account]) is not [var identity])
        {
            return Problems.NotFound("Sandbox account");
        }

        var was = outages.IsOut(identity.OutageKey);
        if (outage)
        {
            outages.Start(identity.OutageKey);
        }
        else
        {
            outages.End(identity.OutageKey);
        }

        if (was != outage)
        {
            // The simulators hold outages in memory: no transaction to share, so the entry follows the act (SandboxAudit).
            // Only this account is affected, so the act is the tenant's and lands in its chain.
            var change = AuditRecorder.Change(
                context, tenantId, outage ? "sandbox.outage.start" : "sandbox.outage.end", "provider", providerId.ToString("D"),
                new JsonObject { ["sandboxOutage"] = was }, new JsonObject { ["sandboxOutage"] = outage });
            await context.RequestServices.GetRequiredService<IAuditStore>().AppendAsync(change, CancellationToken.None);
        }

        var settings = context.RequestServices.GetRequiredService<SandboxSettings>();
        return TypedResults.Json(await ControlsViewAsync(tenantId, store, outages, settings, ct), SandboxBridgeJson.Default.SandboxControlsView);
    }

    private static async Task<IResult> SetLatencyAsync(
        HttpRequest request, ClaimsPrincipal user, IProviderStore store, SandboxOutages outages, SandboxSettings settings, CancellationToken ct)
    {
        var (body, error) = await RequestBody.ReadJsonAsync(request, MaxBodyBytes, SandboxBridgeJson.Default.SandboxLatencyRequest);
        if (error is not null)
        {
            return error;
        }

        if (body!.LatencyMs is not (>= 0 and <= MaxLatencyMs) || body.LatencyMs is not { } latency)
        {
            return Problems.Invalid([new InputError("/latencyMs", $"Required: milliseconds from 0 to {MaxLatencyMs}.")]);
        }

        var before = settings.Current.LatencyMs;
        settings.Apply(new SandboxSettingsUpdate(latency, null, null, null, null));
        if (before != latency)
        {
            // Latency shapes every tenant's deliveries: the act goes to the system chain, naming the tenant key that did it.
            var change = AuditRecorder.Change(
                request.HttpContext, null, "sandbox.latency", "sandbox", "settings",
                new JsonObject { ["latencyMs"] = before }, new JsonObject { ["latencyMs"] = latency });
            await request.HttpContext.RequestServices.GetRequiredService<IAuditStore>().AppendAsync(change, CancellationToken.None);
        }

        return TypedResults.Json(await ControlsViewAsync(user.TenantId(), store, outages, settings, ct), SandboxBridgeJson.Default.SandboxControlsView);
    }

    private static async Task<IResult> SetAccountLatencyAsync(
        Guid providerId, HttpRequest request, ClaimsPrincipal user, IProviderStore store, SandboxOutages outages, SandboxSettings settings,
        CancellationToken ct)
    {
        var (body, error) = await RequestBody.ReadJsonAsync(request, MaxBodyBytes, SandboxBridgeJson.Default.SandboxLatencyRequest);
        if (error is not null)
        {
            return error;
        }

        if (body!.LatencyMs is not (>= 0 and <= MaxLatencyMs) || body.LatencyMs is not { } latency)
        {
            return Problems.Invalid([new InputError("/latencyMs", $"Required: milliseconds from 0 to {MaxLatencyMs}.")]);
        }

        var tenantId = user.TenantId();
        if (await store.GetAsync(tenantId, providerId, ct) is not { } account || SandboxIdentities.Of([account]) is not [var identity])
        {
            return Problems.NotFound("Sandbox account");
        }

        var before = outages.LatencyOf(identity.OutageKey);
        outages.SetLatency(identity.OutageKey, latency);
        if (before != latency)
        {
            // This account's sends only: the tenant's act, in its chain, like its outages.
            var change = AuditRecorder.Change(
                request.HttpContext, tenantId, "sandbox.latency", "provider", providerId.ToString("D"),
                new JsonObject { ["sandboxLatencyMs"] = before }, new JsonObject { ["sandboxLatencyMs"] = latency });
            await request.HttpContext.RequestServices.GetRequiredService<IAuditStore>().AppendAsync(change, CancellationToken.None);
        }

        return TypedResults.Json(await ControlsViewAsync(tenantId, store, outages, settings, ct), SandboxBridgeJson.Default.SandboxControlsView);
    }

    private static async Task<IResult> ReplyAsync(
        HttpRequest request, ClaimsPrincipal user, IProviderStore store, SandboxMailbox mailbox, SandboxReplies replies, CancellationToken ct)
    {
        var (body, error) = await RequestBody.ReadJsonAsync(request, MaxBodyBytes, SandboxBridgeJson.Default.SandboxBridgeReplyRequest);
        if (error is not null)
        {
            return error;
        }

        var parts = body!.MessageId?.Split(':', 2);
        if (parts is not [var channel, var providerMessageId] || channel.Length == 0 || providerMessageId.Length == 0)
        {
            return Problems.Invalid([new InputError("/messageId", "Required: a message's id as GET /v1/sandbox/messages shows it.")]);
        }

        var identities = SandboxIdentities.Of(await store.ListAsync(user.TenantId(), ct));
        // Only the tenant's own messages can be answered: the answer is posted to the account that sent the message.
        var answered = mailbox.Find(channel)
            .Where(m => m.ProviderMessageId == providerMessageId && Owner(identities, m) is not null)
            .MaxBy(static m => m.Time);
        if (answered is null)
        {
            return Problems.NotFound("Sandbox message");
        }

        return await replies.ReplyToAsync(new SandboxReplyRequest(channel, answered.To, body.Text, body.ActionId, answered.ProviderMessageId), answered, ct);
    }

    private static async Task<SandboxControlsView> ControlsViewAsync(
        Guid tenantId, IProviderStore store, SandboxOutages outages, SandboxSettings settings, CancellationToken ct)
    {
        var accounts = SandboxIdentities.Of(await store.ListAsync(tenantId, ct))
            .Select(i => new SandboxAccountControlView(i.Provider.Id, i.Provider.Name, ChannelName(i.Provider.Channel), i.Provider.Kind, outages.IsOut(i.OutageKey), outages.LatencyOf(i.OutageKey)))
            .OrderBy(static a => a.Channel, StringComparer.Ordinal)
            .ThenBy(static a => a.Name, StringComparer.Ordinal)
            .ToList();
        return new SandboxControlsView(settings.Current.LatencyMs, accounts);
    }

    private static SandboxIdentity? Owner(IReadOnlyList<SandboxIdentity> identities, SandboxMessage message)
    {
        foreach (var identity in identities)
        {
            if (identity.Sent(message))
            {
                return identity;
            }
        }

        return null;
    }

    /// <summary>Herald's attempt behind each bubble, by bubble id: one batched lookup per sending account, through the
    /// account's own id (so only the tenant's attempts can be found).</summary>
    private static async Task<Dictionary<string, (Notification Notification, Attempt Attempt)>> AttemptsAsync(
        IDeliveryStore deliveries, IEnumerable<(string Address, SandboxBubbleView Bubble)> bubbles, CancellationToken ct)
    {
        var found = new Dictionary<string, (Notification, Attempt)>(StringComparer.Ordinal);
        foreach (var account in bubbles.GroupBy(static b => b.Bubble.ProviderId))
        {
            var bubbleIds = new Dictionary<string, string>(StringComparer.Ordinal);
            foreach (var (address, bubble) in account)
            {
                // The connector's provider message id: Telegram's names the chat too (chat:message_id), the mailbox the
                // message alone.
                bubbleIds.TryAdd(bubble.Channel == "telegram" ? address + ":" + bubble.ProviderMessageId : bubble.ProviderMessageId, bubble.Id);
            }

            foreach (var (messageId, hit) in await deliveries.FindByProviderMessageIdsAsync(account.Key, bubbleIds.Keys, ct))
            {
                found[bubbleIds[messageId]] = hit;
            }
        }

        return found;
    }

    private static SandboxBubbleView WithAttempt(SandboxBubbleView bubble, Dictionary<string, (Notification Notification, Attempt Attempt)> attempts) =>
        attempts.TryGetValue(bubble.Id, out var hit) ? bubble with { NotificationId = hit.Notification.Id, State = hit.Attempt.State } : bubble;

    private static SandboxBubbleView Bubble(SandboxMessage m, SandboxIdentity identity) =>
        new(m.Channel + ":" + m.ProviderMessageId, m.Channel, identity.Provider.Id, identity.Provider.Name, m.ProviderMessageId, m.Time,
            m.Text, m.Subject, m.Template, m.Buttons);

    private static string PhoneId(Guid tenantId, string address) =>
        Convert.ToHexStringLower(HMACSHA256.HashData(PhoneIdKey, Encoding.UTF8.GetBytes(tenantId.ToString("N") + "|" + address))[..12]);

    private static string ChannelName(Channel channel) => channel switch
    {
        Channel.WhatsApp => "whatsapp",
        Channel.Telegram => "telegram",
        Channel.Sms => "sms",
        Channel.Email => "email",
        _ => "push",
    };
}
