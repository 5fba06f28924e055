using Herald.Core.Customers;
using Herald.Core.Notifications;
using Herald.Core.Templates;

namespace Herald.Storage.Tests;

/// <summary>
/// The customer and template store contracts (CustomerContracts.cs), written against the interfaces only; every
/// backend runs it unchanged through <see cref="StoreSuite.CreateBackendAsync"/>.
/// </summary>
public abstract class CustomerStoreComplianceTests : StoreSuite
{
    private static Customer Full(string id) => new()
    {
        Id = id,
        Contacts = new Contacts("+4915112345678", "123456", "ana@example.com", "push-token"),
        Language = "pt-BR",
        TimeZone = "America/Sao_Paulo",
        PreferredChannel = Channel.Telegram,
        OptOuts = [new OptOut(Channel.WhatsApp, null), new OptOut(null, "service.news"), new OptOut(Channel.Sms, "account.balance")],
        QuietHours = new QuietHours(new TimeOnly(22, 0), new TimeOnly(7, 30)),
        Attributes = new Dictionary<string, string> { ["segment"] = "premium", ["name"] = "Ana" },
    };

    private static void AssertSameFields(Customer expected, Customer actual)
    {
        Assert.Equal(expected.Id, actual.Id);
        Assert.Equal(expected.Contacts with { Language = null }, actual.Contacts);
        Assert.Equal(expected.Language, actual.Language);
        Assert.Equal(expected.TimeZone, actual.TimeZone);
        Assert.Equal(expected.PreferredChannel, actual.PreferredChannel);
        Assert.Equal(expected.OptOuts, actual.OptOuts);
        Assert.Equal(expected.QuietHours, actual.QuietHours);
        Assert.Equal(expected.Attributes.OrderBy(a => a.Key), actual.Attributes.OrderBy(a => a.Key));
    }

    [Fact]
    public async Task UpsertAsync_New_ThenGet_RoundTripsEveryField()
    {
        var tenant = await Stores.Tenants.CreateTenantAsync("Bank", Ct);

        var (stored, created) = await Stores.Customers.UpsertAsync(tenant.Id, Full("c-1"), Ct);

        Assert.True(created);
        Assert.Equal(0, stored.CreatedAt.Ticks % TimeSpan.TicksPerMillisecond);
        Assert.Equal(stored.CreatedAt, stored.UpdatedAt);
        var read = await Stores.Customers.GetAsync(tenant.Id, "c-1", Ct);
        Assert.NotNull(read);
        AssertSameFields(Full("c-1"), read);
        Assert.Equal(stored.CreatedAt, read.CreatedAt);
        Assert.Equal(stored.UpdatedAt, read.UpdatedAt);
    }

    [Fact]
    public async Task UpsertAsync_Existing_ReplacesFieldsAndKeepsCreatedAt()
    {
        var tenant = await Stores.Tenants.CreateTenantAsync("Bank", Ct);
        var (first, _) = await Stores.Customers.UpsertAsync(tenant.Id, Full("c-1"), Ct);

        var minimal = new Customer { Id = "c-1", Contacts = new Contacts(Email: "new@example.com") };
        var (second, created) = await Stores.Customers.UpsertAsync(tenant.Id, minimal, Ct);

        Assert.False(created);
        Assert.Equal(first.CreatedAt, second.CreatedAt);
        Assert.True(second.UpdatedAt >= first.UpdatedAt);
        var read = await Stores.Customers.GetAsync(tenant.Id, "c-1", Ct);
        AssertSameFields(minimal, read!);
        Assert.Empty(read!.OptOuts);
        Assert.Null(read.QuietHours);
        Assert.Equal(first.CreatedAt, read.CreatedAt);
    }

    [Fact]
    public async Task Customers_AreTenantScoped()
    {
        var a = await Stores.Tenants.CreateTenantAsync("A", Ct);
        var b = await Stores.Tenants.CreateTenantAsync("B", Ct);
        await Stores.Customers.UpsertAsync(a.Id, Full("same"), Ct);
        await Stores.Customers.UpsertAsync(b.Id, new Customer { Id = "same", Language = "de" }, Ct);

        Assert.Equal("pt-BR", (await Stores.Customers.GetAsync(a.Id, "same", Ct))!.Language);
        Assert.Equal("de", (await Stores.Customers.GetAsync(b.Id, "same", Ct))!.Language);
        Assert.Null(await Stores.Customers.GetAsync(b.Id, "c-1", Ct));
        Assert.Single(await Stores.Customers.ListAsync(b.Id, null, 50, Ct));

        Assert.True(await Stores.Customers.DeleteAsync(b.Id, "same", Ct));
        Assert.NotNull(await Stores.Customers.GetAsync(a.Id, "same", Ct));
        Assert.False(await Stores.Customers.DeleteAsync(b.Id, "same", Ct));
    }

    [Fact]
    public async Task GetManyAsync_ReturnsOnlyStoredCustomersOfTheTenant()
    {
        var a = await Stores.Tenants.CreateTenantAsync("A", Ct);
        var b = await Stores.Tenants.CreateTenantAsync("B", Ct);
        await Stores.Customers.UpsertAsync(a.Id, Full("x"), Ct);
        await Stores.Customers.UpsertAsync(a.Id, Full("y"), Ct);
        await Stores.Customers.UpsertAsync(b.Id, Full("z"), Ct);

        var found = await Stores.Customers.GetManyAsync(a.Id, ["x", "y", "z", "unknown", "x"], Ct);

        Assert.Equal(["x", "y"], found.Select(c => c.Id).Order(StringComparer.Ordinal));
        Assert.Empty(await Stores.Customers.GetManyAsync(a.Id, [], Ct));
    }

    [Fact]
    public async Task ListAsync_PagesByIdInByteOrder()
    {
        var tenant = await Stores.Tenants.CreateTenantAsync("Bank", Ct);
        string[] ids = ["b", "a", "B", "a-1", "Z", "ä"];
        foreach (var id in ids)
        {
            await Stores.Customers.UpsertAsync(tenant.Id, new Customer { Id = id }, Ct);
        }

        var expected = ids.Order(StringComparer.Ordinal).ToArray();
        var seen = new List<string>();
        string? after = null;
        while (true)
        {
            var page = await Stores.Customers.ListAsync(tenant.Id, after, 4, Ct);
            seen.AddRange(page.Select(c => c.Id));
            if (page.Count < 4)
            {
                break;
            }

            after = page[^1].Id;
        }

        Assert.Equal(expected, seen);
        Assert.Single(await Stores.Customers.ListAsync(tenant.Id, null, 0, Ct));
    }

    [Fact]
    public async Task DeleteAsync_RemovesTheCustomer()
    {
        var tenant = await Stores.Tenants.CreateTenantAsync("Bank", Ct);
        await Stores.Customers.UpsertAsync(tenant.Id, Full("c-1"), Ct);

        Assert.True(await Stores.Customers.DeleteAsync(tenant.Id, "c-1", Ct));
        Assert.Null(await Stores.Customers.GetAsync(tenant.Id, "c-1", Ct));
        Assert.False(await Stores.Customers.DeleteAsync(tenant.Id, "c-1", Ct));
    }

    [Fact]
    public async Task Customers_SurviveANewServiceProvider()
    {
        var tenant = await Stores.Tenants.CreateTenantAsync("Bank", Ct);
        await Stores.Customers.UpsertAsync(tenant.Id, Full("c-1"), Ct);
        await using var reopened = Backend.Open();

        AssertSameFields(Full("c-1"), (await reopened.Customers.GetAsync(tenant.Id, "c-1", Ct))!);
    }

    // ---- templates ----

    private static MessageTemplate Template(Guid tenantId, string name, Channel channel, string? language, string body = "Hi {{ data.name }}") =>
        new(Guid.Empty, tenantId, name, channel, language, channel == Channel.Email ? "Subject {{ type }}" : null, body,
            channel == Channel.WhatsApp ? new WhatsAppTemplateMapping("card_tx", "pt_BR", ["data.amount | money: data.currency", "data.merchant"]) : null,
            0, default, default);

    [Fact]
    public async Task SaveAsync_New_ThenGet_RoundTripsEveryField()
    {
        var tenant = await Stores.Tenants.CreateTenantAsync("Bank", Ct);
        var input = Template(tenant.Id, "card.transaction", Channel.WhatsApp, "pt-BR");

        var (stored, created) = await Stores.Templates.SaveAsync(input, Ct);

        Assert.True(created);
        Assert.NotEqual(Guid.Empty, stored.Id);
        Assert.Equal(1, stored.Version);
        var read = await Stores.Templates.GetAsync(tenant.Id, stored.Id, Ct);
        Assert.NotNull(read);
        Assert.Equal(stored with { WhatsApp = null }, read with { WhatsApp = null });
        Assert.Equal(input.WhatsApp!.Name, read.WhatsApp!.Name);
        Assert.Equal(input.WhatsApp.Language, read.WhatsApp.Language);
        Assert.Equal(input.WhatsApp.Parameters, read.WhatsApp.Parameters);

        var email = await Stores.Templates.SaveAsync(Template(tenant.Id, "card.transaction", Channel.Email, null), Ct);
        var readEmail = await Stores.Templates.GetAsync(tenant.Id, email.Template.Id, Ct);
        Assert.Equal(email.Template, readEmail);
        Assert.Null(readEmail!.Language);
        Assert.Equal("Subject {{ type }}", readEmail.Subject);
    }

    [Fact]
    public async Task SaveAsync_SameNameChannelLanguage_ReplacesAndBumpsVersion()
    {
        var tenant = await Stores.Tenants.CreateTenantAsync("Bank", Ct);
        var (first, _) = await Stores.Templates.SaveAsync(Template(tenant.Id, "otp", Channel.Sms, null, "v1"), Ct);

        var (second, created) = await Stores.Templates.SaveAsync(Template(tenant.Id, "otp", Channel.Sms, null, "v2"), Ct);
        var (third, _) = await Stores.Templates.SaveAsync(Template(tenant.Id, "otp", Channel.Sms, null, "v3"), Ct);

        Assert.False(created);
        Assert.Equal(first.Id, second.Id);
        Assert.Equal(first.CreatedAt, third.CreatedAt);
        Assert.Equal(3, third.Version);
        Assert.Equal(third, await Stores.Templates.GetAsync(tenant.Id, first.Id, Ct));
        Assert.Single(await Stores.Templates.ListAsync(tenant.Id, Ct));
    }

    [Fact]
    public async Task SaveAsync_DifferentLanguageOrChannel_IsAnotherTemplate()
    {
        var tenant = await Stores.Tenants.CreateTenantAsync("Bank", Ct);
        await Stores.Templates.SaveAsync(Template(tenant.Id, "otp", Channel.Sms, "pt"), Ct);
        await Stores.Templates.SaveAsync(Template(tenant.Id, "otp", Channel.Sms, null), Ct);
        await Stores.Templates.SaveAsync(Template(tenant.Id, "otp", Channel.Telegram, "pt"), Ct);
        await Stores.Templates.SaveAsync(Template(tenant.Id, "card", Channel.Sms, "en"), Ct);

        var all = await Stores.Templates.ListAsync(tenant.Id, Ct);

        // Ordered by name, channel (its stored number: telegram before sms), language with the default first.
        Assert.Equal(
            [("card", Channel.Sms, "en"), ("otp", Channel.Telegram, "pt"), ("otp", Channel.Sms, null), ("otp", Channel.Sms, "pt")],
            all.Select(t => (t.Name, t.Channel, t.Language)).ToArray());
        Assert.All(all, t => Assert.Equal(1, t.Version));
    }

    [Fact]
    public async Task Templates_AreTenantScoped()
    {
        var a = await Stores.Tenants.CreateTenantAsync("A", Ct);
        var b = await Stores.Tenants.CreateTenantAsync("B", Ct);
        var (mine, _) = await Stores.Templates.SaveAsync(Template(a.Id, "otp", Channel.Sms, null), Ct);
        var (theirs, created) = await Stores.Templates.SaveAsync(Template(b.Id, "otp", Channel.Sms, null), Ct);

        Assert.True(created);
        Assert.NotEqual(mine.Id, theirs.Id);
        Assert.Null(await Stores.Templates.GetAsync(b.Id, mine.Id, Ct));
        Assert.Equal([theirs.Id], (await Stores.Templates.ListAsync(b.Id, Ct)).Select(t => t.Id));
        Assert.False(await Stores.Templates.DeleteAsync(b.Id, mine.Id, Ct));
        Assert.True(await Stores.Templates.DeleteAsync(a.Id, mine.Id, Ct));
        Assert.Null(await Stores.Templates.GetAsync(a.Id, mine.Id, Ct));
        Assert.NotNull(await Stores.Templates.GetAsync(b.Id, theirs.Id, Ct));
    }
}

public sealed class PostgresCustomerStoreComplianceTests(PostgresFixture server) : CustomerStoreComplianceTests
{
    protected override async Task<IStoreTestBackend> CreateBackendAsync() => await PostgresTestBackend.CreateAsync(server, Ct);
}

public sealed class SqliteCustomerStoreComplianceTests : CustomerStoreComplianceTests
{
    protected override Task<IStoreTestBackend> CreateBackendAsync() => Task.FromResult<IStoreTestBackend>(new SqliteTestBackend());
}
