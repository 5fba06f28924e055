using System.Globalization;
using Herald.Core.Delivery;
using Herald.Core.Notifications;

namespace Herald.Storage;

/// <summary>
/// The state rules both backends' SQL relies on, named once: the numbers come from the enums (stored as smallint),
/// and a rule that compares states is one function here, so the PostgreSQL and the SQLite statements cannot drift.
/// No SQL text in this project writes a state, status or lane as a bare number (docs/ARCHITECTURE.md, issue #15).
/// </summary>
internal static class StateSql
{
    /// <summary>A notification that waits for its first delivery round (<see cref="NotificationStatus.Accepted"/>).</summary>
    public static readonly string Accepted = Of(NotificationStatus.Accepted);

    /// <summary>A delivered notification (<see cref="NotificationStatus.Delivered"/>).</summary>
    public static readonly string Delivered = Of(NotificationStatus.Delivered);

    /// <summary>An attempt whose send may be in flight (<see cref="AttemptState.Sending"/>).</summary>
    public static readonly string AttemptSending = Of(AttemptState.Sending);

    /// <summary>A webhook delivery still to be sent.</summary>
    public static readonly string WebhookPending = Of(WebhookDeliveryState.Pending);

    /// <summary>A webhook delivery that gave up (a replay makes it pending again).</summary>
    public static readonly string WebhookDead = Of(WebhookDeliveryState.Dead);

    /// <summary>Every lane of the queue (the <see cref="Priority"/> values), highest first, as a SQL list.</summary>
    public static readonly string Lanes = string.Join(", ", Enum.GetValues<Priority>().Order().Select(Of));

    /// <summary>The lane of <paramref name="priority"/>.</summary>
    public static string Lane(Priority priority) => Of(priority);

    /// <summary>A notification status not yet final: every final status (delivered, failed, expired, suppressed,
    /// cancelled) is <see cref="NotificationStatus.Delivered"/> or above.</summary>
    public static string NotFinal(string status) => $"{status} < {Of(NotificationStatus.Delivered)}";

    /// <summary>SQL that is true when <paramref name="status"/> is a final state (delivered and every status after it).</summary>
    public static string Final(string status) => $"{status} >= {Of(NotificationStatus.Delivered)}";

    /// <summary>The stored attempt keeps its state (and the failure that goes with it) over a written one: an attempt
    /// never moves back from read, and from delivered only read is taken (<see cref="DeliveryUpdate"/>).</summary>
    public static string KeepsStoredAttemptState(string stored, string written) =>
        $"({stored} = {Of(AttemptState.Read)} OR ({stored} = {Of(AttemptState.Delivered)} AND {written} <> {Of(AttemptState.Read)}))";

    /// <summary>A receipt's rank in the order sent &lt; failed &lt; delivered &lt; read: a pending receipt is only
    /// replaced by one of the same or a higher rank (providers do not promise to report in order).</summary>
    public static string ReceiptRank(string state) =>
        $"(CASE {state} WHEN {Of(ReceiptState.Sent)} THEN 0 WHEN {Of(ReceiptState.Failed)} THEN 1 " +
        $"WHEN {Of(ReceiptState.Delivered)} THEN 2 ELSE 3 END)";

    private static string Of<T>(T value) where T : struct, Enum =>
        Convert.ToInt16(value, CultureInfo.InvariantCulture).ToString(CultureInfo.InvariantCulture);
}
