using System.Text.Json;
using System.Text.Json.Serialization;
using System.Text.Json.Serialization.Metadata;
using Herald.Core.Notifications;
using Herald.Core.Routing;

namespace Herald.Storage.Tests;

/// <summary>The stored JSON of routes, contacts and actions is what rows already hold: the generated serialiser writes
/// byte for byte what the reflection-based one wrote before it, and reads it back.</summary>
public sealed class StorageJsonTests
{
    private static readonly JsonSerializerOptions Reflection = new(JsonSerializerDefaults.Web)
    {
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
        TypeInfoResolver = new DefaultJsonTypeInfoResolver(),
    };

    [Fact]
    public void AFullRoute_IsWrittenAsBefore_AndReadBack()
    {
        var route = new Route(Priority.Critical, [new RouteStep(Channel.WhatsApp, WaitFor.Delivered, TimeSpan.FromSeconds(30)), new RouteStep(Channel.Sms, WaitFor.Sent, TimeSpan.Zero)])
        {
            CostPolicy = CostPolicy.Cheapest,
            QuietHours = QuietHoursPolicy.Wait,
            Templates = new Dictionary<Channel, string> { [Channel.WhatsApp] = "otp_v2", [Channel.Sms] = "otp" },
            Tags = ["fraud", "vip"],
            Digest = new DigestMembership("#k1:ab", new DateTimeOffset(2026, 12, 7, 16, 0, 0, TimeSpan.Zero)),
            Throttle = new ThrottleMembership("#k1:cd", 3, TimeSpan.FromMinutes(10)),
            DecidedBy = new RouteProvenance(42, new Dictionary<string, string> { ["priority"] = "fraud first", ["channels"] = "whatsapp then sms" }),
        };

        var json = StorageJson.SerializeRoute(route);

        Assert.Equal(JsonSerializer.Serialize(route, Reflection), json);
        var read = StorageJson.DeserializeRoute(json);
        Assert.Equal(json, StorageJson.SerializeRoute(read));
        Assert.Equal(route.Steps, read.Steps);
    }

    [Fact]
    public void ContactsAndActions_AreWrittenAsBefore_AndReadBack()
    {
        var contacts = new Contacts("+4915112345678", "123456", "ana@example.com", "token", "de-DE");
        NotificationAction[] actions = [new("yes", "Yes, it was me"), new("no", "No")];

        Assert.Equal(JsonSerializer.Serialize(contacts, Reflection), StorageJson.SerializeContacts(contacts));
        Assert.Equal(JsonSerializer.Serialize<IReadOnlyList<NotificationAction>>(actions, Reflection), StorageJson.SerializeActions(actions));
        Assert.Equal(contacts, StorageJson.DeserializeContacts(StorageJson.SerializeContacts(contacts)));
        Assert.Equal(actions, StorageJson.DeserializeActions(StorageJson.SerializeActions(actions)));
    }
}
