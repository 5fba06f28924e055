using System.Globalization;
using System.Security.Claims;
using System.Text.Json;
using System.Text.Json.Serialization;
using Herald.Channels.Callbacks;
using Herald.Core.Notifications;
using Herald.Ingest;
using Herald.Server.Authentication;
using Herald.Storage;

namespace Herald.Server.Replies;

/// <summary>A reply or customer message as the API shows it (issue #16).</summary>
/// <param name="Type"><c>notification.reply</c> (it answers <paramref name="NotificationId"/>) or <c>customer.message</c>.</param>
/// <param name="ActionId">The choice named by a button, a key or the text; null for free text.</param>
/// <param name="Late">It came after the question's reply time, or answers a cancelled notification.</param>
public sealed record CustomerMessageView(
    Guid Id, string Type, Channel Channel, string From, Guid? NotificationId, string? ActionId, string? Text, bool Late, string? CustomerId, DateTimeOffset ReceivedAt)
{
    public static CustomerMessageView Of(CustomerMessage m) =>
        new(m.Id, m.EventType, m.Channel, m.From, m.NotificationId, m.ActionId, m.Text, m.Late, m.CustomerId, m.ReceivedAt);
}

/// <param name="Next">The cursor for the next (older) page, passed as <c>before</c>; null on the last page.</param>
public sealed record CustomerMessagePage(IReadOnlyList<CustomerMessageView> Items, Guid? Next);

[JsonSourceGenerationOptions(JsonSerializerDefaults.Web)]
[JsonSerializable(typeof(CustomerMessagePage))]
public sealed partial class RepliesJson : JsonSerializerContext;

/// <summary><c>GET /v1/customers/{id}/messages</c>: the conversation with a customer, newest first (issue #16).</summary>
public static class RepliesApi
{
    public static IEndpointRouteBuilder MapRepliesApi(this IEndpointRouteBuilder app)
    {
        app.MapGet("/v1/customers/{id}/messages", ListAsync).WithTags("Customers").RequireAuthorization(Policies.Read)
            .WithName("listCustomerMessages").WithSummary("The conversation with a customer: replies and messages, newest first")
            .Produces<CustomerMessagePage>();
        app.MapPushCallbacks();
        return app;
    }

    /// <summary>Messages linked to the customer id, and those from the stored customer's phone and Telegram chat id.</summary>
    private static async Task<IResult> ListAsync(
        string id, HttpRequest request, ClaimsPrincipal user, ICustomerStore customers, ICustomerMessageStore messages, CancellationToken ct)
    {
        var errors = new List<InputError>();
        var limit = 50;
        if (request.Query["limit"].FirstOrDefault() is { } rawLimit && (!int.TryParse(rawLimit, CultureInfo.InvariantCulture, out limit) || limit is < 1 or > 500))
        {
            errors.Add(new InputError("query/limit", "Must be 1 to 500."));
        }

        Guid? before = null;
        if (request.Query["before"].FirstOrDefault() is { } rawBefore)
        {
            if (Guid.TryParse(rawBefore, out var b))
            {
                before = b;
            }
            else
            {
                errors.Add(new InputError("query/before", "Must be a message id (the previous page's next)."));
            }
        }

        if (errors.Count > 0)
        {
            return Problems.Invalid(errors, "The listing is invalid.");
        }

        var tenantId = user.TenantId();
        var customer = await customers.GetAsync(tenantId, id, ct);
        string[] addresses = customer is null ? [] : [.. new[] { customer.Contacts.Phone, customer.Contacts.TelegramChatId }.OfType<string>()];
        var items = await messages.ListConversationAsync(tenantId, id, addresses, before, limit, ct);
        var page = new CustomerMessagePage([.. items.Select(CustomerMessageView.Of)], items.Count == limit ? items[^1].Id : null);
        return TypedResults.Json(page, RepliesJson.Default.CustomerMessagePage);
    }
}

public static class RepliesServiceCollectionExtensions
{
    /// <summary>The one door of customers' messages (<see cref="IInboundMessageSink"/>, also SMPP's mobile-originated
    /// deliver_sm) over the <see cref="InboundMessageProcessor"/>.</summary>
    public static IServiceCollection AddHeraldReplies(this IServiceCollection services)
    {
        services.AddSingleton<InboundMessageProcessor>();
        services.AddSingleton<IInboundMessageSink>(static sp => sp.GetRequiredService<InboundMessageProcessor>());
        services.AddSingleton<ServiceWindows>();
        services.AddSingleton<Channels.WhatsApp.ICustomerServiceWindows>(static sp => sp.GetRequiredService<ServiceWindows>());
        // After the sandbox's own registration: Herald knows notification ids, the standalone sandbox does not.
        services.AddSingleton<Sandbox.Replies.ISandboxReplyReferences, SandboxReplyReferences>();
        return services;
    }
}

/// <summary>Lets a simulated customer answer a notification by its id (<c>POST /sandbox/replies</c>): the provider
/// message id of its latest send on the channel.</summary>
public sealed class SandboxReplyReferences(ICustomerMessageStore store) : Sandbox.Replies.ISandboxReplyReferences
{
    public Task<string?> ProviderMessageIdAsync(Guid notificationId, string channel, CancellationToken ct) =>
        store.FindSentMessageIdAsync(notificationId, channel switch { "sms" => Channel.Sms, "telegram" => Channel.Telegram, _ => Channel.WhatsApp }, ct);
}
