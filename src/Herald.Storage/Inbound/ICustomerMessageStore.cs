using Herald.Core.Notifications;

namespace Herald.Storage;

/// <summary>
/// Replies and customer messages (issue #16). Storing one also records its webhook event (<c>notification.reply</c> or
/// <c>customer.message</c>) in the same transaction, by the same outbox as status events, for tenants with an enabled
/// endpoint: a reply is never stored without being reported, nor reported without being stored.
/// </summary>
public interface ICustomerMessageStore
{
    /// <summary>
    /// Stores the messages in one transaction; one whose (account, provider message id) is already stored is a vendor's
    /// retry and is skipped. Answers, in input order, whether each was new.
    /// </summary>
    Task<IReadOnlyList<bool>> AddAsync(IReadOnlyList<CustomerMessage> messages, CancellationToken ct);

    /// <summary>Which of <paramref name="providerMessageIds"/> are stored for <paramref name="accountId"/> (one keyed
    /// look-up): a redelivered message without a vendor id (SMPP) is recognised by its name in the previous window.</summary>
    Task<IReadOnlySet<string>> StoredProviderIdsAsync(Guid accountId, IReadOnlyList<string> providerMessageIds, CancellationToken ct);

    /// <summary>
    /// The latest notification of <paramref name="tenantId"/> that asks a question, open at <paramref name="now"/> (its
    /// reply time not passed), to <paramref name="phone"/> and sent on <paramref name="channel"/> through
    /// <paramref name="accountId"/>: what a text without a reference (SMS) answers. Null when none is open.
    /// </summary>
    Task<Notification?> FindOpenQuestionAsync(Guid tenantId, Guid accountId, Channel channel, string phone, DateTimeOffset now, CancellationToken ct);

    /// <summary>The provider message id of the latest send of a notification on a channel: what a reply on that channel
    /// references. Not tenant-scoped: for the sandbox's simulated customers only (<c>POST /sandbox/replies</c>).</summary>
    Task<string?> FindSentMessageIdAsync(Guid notificationId, Channel channel, CancellationToken ct);

    /// <summary>The replies to one notification of the tenant, oldest first.</summary>
    Task<IReadOnlyList<CustomerMessage>> ListRepliesAsync(Guid tenantId, Guid notificationId, CancellationToken ct);

    /// <summary>
    /// The conversation with a customer, newest first: messages linked to the customer id, and those sent from any of
    /// <paramref name="addresses"/> (the customer's phone and Telegram chat id). Keyset pagination: ids below
    /// <paramref name="before"/> (ids are time-ordered); <paramref name="limit"/> clamped to 1..500.
    /// </summary>
    Task<IReadOnlyList<CustomerMessage>> ListConversationAsync(
        Guid tenantId, string customerId, IReadOnlyList<string> addresses, Guid? before, int limit, CancellationToken ct);
}
