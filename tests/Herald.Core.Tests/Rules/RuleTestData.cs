using Herald.Core.Notifications;
using Herald.Core.Rules;

namespace Herald.Core.Tests.Rules;

internal static class RuleTestData
{
    /// <summary>Monday 2025-03-03 14:30 UTC.</summary>
    public static readonly DateTimeOffset Noon = new(2025, 3, 3, 14, 30, 0, TimeSpan.Zero);

    public static readonly Contacts AllContacts = new(Phone: "+4915112345678", TelegramChatId: "777", Email: "anna@example.test", PushToken: "tok", Language: "de");

    public static NewNotification Notification(
        string type = "card.transaction", string data = "{}", Contacts? contacts = null, Priority? priority = null, string? customerId = null) =>
        new(Guid.Empty, null, type, customerId, contacts ?? AllContacts, data, priority, null, null, null, null);

    public static RuleContext Context(
        string type = "card.transaction",
        string data = "{}",
        Contacts? contacts = null,
        IReadOnlyDictionary<string, string>? customer = null,
        DateTimeOffset? now = null,
        Priority? priority = null) =>
        new(Notification(type, data, contacts, priority), customer, now ?? Noon);

    public static bool Eval(string expression, string data = "{}", string type = "card.transaction", IReadOnlyDictionary<string, string>? customer = null, DateTimeOffset? now = null, Contacts? contacts = null) =>
        RuleCondition.Compile(expression).Evaluate(Context(type, data, contacts, customer, now));

    public static string FixturePath(string name) => Path.Combine(AppContext.BaseDirectory, "Rules", "Fixtures", name);
}
