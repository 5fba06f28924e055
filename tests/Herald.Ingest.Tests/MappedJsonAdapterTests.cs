using System.Text.Json;
using Herald.Core.Notifications;
using Herald.Ingest.Mapped;
using Herald.Ingest.Sources;

namespace Herald.Ingest.Tests;

public sealed class MappedJsonAdapterTests
{
    private static AdaptedDocument Adapt(string settingsFixture, string body) =>
        MappedJsonAdapter.Adapt(System.Text.Encoding.UTF8.GetBytes(body), Fixture.Config(SourceAdapter.Mapped, settingsFixture).Mapping!, Fixture.Tenant, Fixture.Source);

    [Fact]
    public void Adapt_CardProcessorEvent_MapsTypeCustomerAndDataKeepingJsonTypes()
    {
        var document = Adapt("mapped/card-processor.settings.json", Fixture.Text("mapped/card-processor.json"));

        Assert.False(document.IsBatch);
        var n = Assert.Single(document.Items).Notification!;
        Assert.Equal("card.transaction", n.Type);
        Assert.Equal("CH-778", n.CustomerId);
        Assert.Equal(new Contacts("+4915112345678", null, "ana@example.com", null, "de"), n.Contacts);
        Assert.Equal("AUTH-2026-000123", n.ExternalId);
        Assert.Equal("src:" + Fixture.Source.ToString("N") + ":AUTH-2026-000123", n.DedupeKey);
        var data = JsonDocument.Parse(n.DataJson).RootElement;
        Assert.Equal(42.9m, data.GetProperty("amount").GetDecimal());
        Assert.Equal("Coffee Roasters", data.GetProperty("merchant").GetString());
        Assert.Equal("card", data.GetProperty("channel").GetString());
    }

    [Fact]
    public void Adapt_CardProcessorWithoutLanguage_TakesTheDefault_AndUnmappedEventIsLocated()
    {
        var body = Fixture.Text("mapped/card-processor.json").Replace("\"lang\": \"de\"", "\"lang\": null", StringComparison.Ordinal);
        Assert.Equal("en", Assert.Single(Adapt("mapped/card-processor.settings.json", body).Items).Notification!.Contacts.Language);

        var unknown = Fixture.Text("mapped/card-processor.json").Replace("AUTHORIZATION", "CHARGEBACK", StringComparison.Ordinal);
        var item = Assert.Single(Adapt("mapped/card-processor.settings.json", unknown).Items);
        Assert.Null(item.Notification);
        var error = Assert.Single(item.Errors);
        Assert.Equal("/event", error.Pointer);
        Assert.Contains("'CHARGEBACK' has no entry", error.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public void Adapt_FraudEngineBatch_ReportsPerItemWithLocations()
    {
        var document = Adapt("mapped/fraud-engine.settings.json", Fixture.Text("mapped/fraud-engine.json"));

        Assert.True(document.IsBatch);
        Assert.Equal(3, document.Items.Count);
        var first = document.Items[0].Notification!;
        Assert.Equal("fraud.alert", first.Type);
        Assert.Equal(Priority.Critical, first.RequestedPriority);
        Assert.Equal("123456789", first.Contacts.TelegramChatId);
        Assert.Equal(new DateTimeOffset(2099, 1, 1, 0, 0, 0, TimeSpan.Zero), first.ExpiresAt);
        Assert.StartsWith("Did you just pay", JsonDocument.Parse(first.DataJson).RootElement.GetProperty("text").GetString(), StringComparison.Ordinal);
        Assert.Equal(Priority.Normal, document.Items[1].Notification!.RequestedPriority);
        var rejected = document.Items[2];
        Assert.Null(rejected.Notification);
        Assert.Equal("/alerts/2/customer/contact/msisdn", Assert.Single(rejected.Errors).Pointer);
        Assert.Contains("(mapped to /customer/phone)", rejected.Errors[0].Detail, StringComparison.Ordinal);
    }

    [Fact]
    public void Adapt_ItemsSelectorMissing_RefusesTheDocument()
    {
        var document = Adapt("mapped/fraud-engine.settings.json", """{"alerts":{}}""");

        Assert.Equal("/alerts", Assert.Single(document.DocumentErrors).Pointer);
        Assert.Empty(document.Items);
    }

    [Fact]
    public void Adapt_SameItemWithoutExternalId_GetsAStableContentKey()
    {
        const string settings = """{"mapping":{"type":{"const":"service.news"},"customer":{"phone":"/p"}}}""";
        var mapping = Fixture.Config(SourceAdapter.Mapped, settings, out _).Mapping!;

        string? Key(string json) => MappedJsonAdapter.Adapt(System.Text.Encoding.UTF8.GetBytes(json), mapping, Fixture.Tenant, Fixture.Source).Items[0].Notification!.DedupeKey;

        Assert.Equal(Key("""{"p":"+4915112345678","x":1}"""), Key("""{"p":"+4915112345678","x":1}"""));
        Assert.NotEqual(Key("""{"p":"+4915112345678","x":1}"""), Key("""{"p":"+4915112345678","x":2}"""));
    }

    [Fact]
    public void Adapt_TooDeeplyNested_IsRefused()
    {
        var body = "{\"a\":" + new string('[', 500) + new string(']', 500) + "}";

        Assert.Single(Adapt("mapped/card-processor.settings.json", body).DocumentErrors);
    }

    [Theory]
    [InlineData("""{"mapping":{"customer":{"phone":"/p"}}}""", "/settings/mapping/type")]
    [InlineData("""{"mapping":{"type":"kind","customer":{"phone":"/p"}}}""", "/settings/mapping/type")]
    [InlineData("""{"mapping":{"type":{"from":"/k","map":{"A":"Not A Type"}},"customer":{"phone":"/p"}}}""", "/settings/mapping/type/map/A")]
    [InlineData("""{"mapping":{"type":{"const":"otp"},"customer":{"fax":"/f"}}}""", "/settings/mapping/customer/fax")]
    [InlineData("""{"mapping":{"type":{"const":"otp"},"customer":{}}}""", "/settings/mapping/customer")]
    [InlineData("""{"mapping":{"type":{"const":"otp","from":"/x"},"customer":{"phone":"/p"}}}""", "/settings/mapping/type")]
    [InlineData("""{"mapping":{"type":{"const":"otp"},"priority":{"const":"urgent"},"customer":{"phone":"/p"}}}""", "/settings/mapping/priority/const")]
    [InlineData("""{"mapping":{"type":{"const":"otp"},"customer":{"phone":"/p"},"extra":1}}""", "/settings/mapping/extra")]
    [InlineData("""{"mapping":{"type":{"const":"otp"},"customer":{"phone":"/p~2"}}}""", "/settings/mapping/customer/phone")]
    [InlineData("""{"mappings":{}}""", "/settings/mappings")]
    public void Parse_InvalidMapping_IsLocated(string settings, string pointer)
    {
        var config = Fixture.Config(SourceAdapter.Mapped, settings, out var errors);

        Assert.Null(config);
        Assert.Contains(pointer, errors.Select(e => e.Pointer));
    }
}
