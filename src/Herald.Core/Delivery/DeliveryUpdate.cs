using Herald.Core.Notifications;

namespace Herald.Core.Delivery;

/// <summary>A state change to store, guarded by optimistic concurrency.</summary>
/// <param name="ExpectedVersion">Applied only if the notification still has this version.</param>
/// <param name="Attempts">Attempts to insert or update by id. An update of a stored attempt:
/// <list type="bullet">
/// <item>never moves it back from delivered or read: from delivered only read is taken, from read nothing; a refused
/// state keeps the stored failure kind, error code and error with it;</item>
/// <item>keeps the first non-null <see cref="Attempt.ProviderId"/>, <see cref="Attempt.ProviderName"/>,
/// <see cref="Attempt.ProviderMessageId"/>, <see cref="Attempt.Cost"/>, <see cref="Attempt.SentAt"/> and
/// <see cref="Attempt.DeliveredAt"/> (a later value only fills a null);</item>
/// <item>keeps the later of the stored and the written <see cref="Attempt.UpdatedAt"/>, and never changes
/// <see cref="Attempt.CreatedAt"/>.</item>
/// </list></param>
public sealed record DeliveryUpdate(Guid NotificationId, int ExpectedVersion, Transition Transition, IReadOnlyList<Attempt> Attempts);
