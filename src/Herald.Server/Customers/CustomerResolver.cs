using Herald.Core.Customers;
using Herald.Core.Notifications;
using Herald.Core.Rules;
using Route = Herald.Core.Routing.Route;
using Herald.Ingest;
using Microsoft.Extensions.Options;

namespace Herald.Server.Customers;

/// <summary>A notification with its stored customer applied: contacts merged (inline wins field by field).</summary>
/// <param name="Customer">The stored record, null when the notification names none or an unknown one.</param>
/// <param name="Error">Set when the notification cannot be accepted: it names an unknown customer and carries no contact.</param>
public sealed record ResolvedNotification(NewNotification Notification, Customer? Customer, InputError? Error);

/// <summary>
/// The ingest side of stored customers (issue #4): resolves <c>customer.id</c> through the per-node cache, fills in
/// contacts, and shapes the route by the customer's preferences after the rules decided it.
/// </summary>
public sealed class CustomerResolver(CustomerCache cache, IOptions<CustomersOptions> options)
{
    private readonly HashSet<string> _exempt = new(options.Value.OptOutExemptTypes, StringComparer.Ordinal);

    /// <summary>Resolves every notification; one store read per tenant for all cache misses.</summary>
    /// <param name="pointerPrefix">Per item, where its errors point (e.g. "/items/3"); "" for a single notification.</param>
    public async ValueTask<ResolvedNotification[]> ResolveAsync(
        IReadOnlyList<NewNotification> notifications, Func<int, string>? pointerPrefix, CancellationToken ct)
    {
        var keys = new (Guid, string)?[notifications.Count];
        var any = false;
        for (var i = 0; i < keys.Length; i++)
        {
            if (notifications[i].CustomerId is { } id)
            {
                keys[i] = (notifications[i].TenantId, id);
                any = true;
            }
        }

        var customers = any ? await cache.GetManyAsync(keys, ct) : new Customer?[keys.Length];
        var result = new ResolvedNotification[keys.Length];
        for (var i = 0; i < keys.Length; i++)
        {
            var n = notifications[i];
            if (customers[i] is { } customer)
            {
                result[i] = new ResolvedNotification(n with { Contacts = CustomerPreferences.Merge(n.Contacts, customer) }, customer, null);
            }
            else if (n.CustomerId is not null && !HasAddress(n.Contacts))
            {
                var error = new InputError((pointerPrefix?.Invoke(i) ?? "") + "/customer/id",
                    "Unknown customer, and the notification carries no contact: store the customer (PUT /v1/customers/{id}) or send phone, telegramChatId, email or pushToken.");
                result[i] = new ResolvedNotification(n, null, error);
            }
            else
            {
                result[i] = new ResolvedNotification(n, null, null);
            }
        }

        return result;
    }

    /// <summary>The route after the customer's opt-outs and preferred channel; unchanged without a stored customer.</summary>
    /// <param name="optOuts">The tenant's rules' decision (<c>then.optOuts</c>); null when no rule decided, and then the
    /// node's <see cref="CustomersOptions.OptOutExemptTypes"/> is the fallback.</param>
    public Route Shape(Route route, NewNotification notification, Customer? customer, OptOutPolicy? optOuts = null) =>
        customer is null ? route : CustomerPreferences.Apply(route, customer, notification.Type, IgnoresOptOuts(notification.Type, optOuts));

    /// <summary>Whether opt-outs are ignored for <paramref name="type"/>: the rules decide, else the node's list.</summary>
    public bool IgnoresOptOuts(string type, OptOutPolicy? optOuts) =>
        optOuts is { } policy ? policy == OptOutPolicy.Ignore : _exempt.Contains(type);

    private static bool HasAddress(Contacts c) => c.Phone is not null || c.TelegramChatId is not null || c.Email is not null || c.PushToken is not null;
}

/// <summary>A notification that cannot be accepted because of its customer (see <see cref="ResolvedNotification.Error"/>).</summary>
public sealed class CustomerRejectedException(IReadOnlyList<InputError> errors, string title)
    : Exception(title)
{
    public IReadOnlyList<InputError> Errors { get; } = errors;
    public string Title { get; } = title;
}
