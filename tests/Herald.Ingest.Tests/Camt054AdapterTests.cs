using System.Text;
using System.Text.Json;
using Herald.Core.Notifications;
using Herald.Ingest.Iso20022;
using Herald.Ingest.Mapped;
using Herald.Ingest.Sources;

namespace Herald.Ingest.Tests;

public sealed class Camt054AdapterTests
{
    private const long MaxChars = 16 * 1024 * 1024;
    private static readonly Camt054Settings Settings = Fixture.Config(SourceAdapter.Iso20022, "camt054/source-settings.json").Camt!;

    private static AdaptedDocument Adapt(string fixture, Camt054Settings? settings = null) =>
        Camt054Adapter.Adapt(Fixture.Bytes("camt054/" + fixture), settings ?? Settings, Fixture.Tenant, Fixture.Source, MaxChars);

    private static AdaptedDocument AdaptText(string xml, long maxChars = MaxChars) =>
        Camt054Adapter.Adapt(Encoding.UTF8.GetBytes(xml), Settings, Fixture.Tenant, Fixture.Source, maxChars);

    private static JsonElement Data(NewNotification n) => JsonDocument.Parse(n.DataJson).RootElement;

    [Fact]
    public void Adapt_Version02_OneNotificationPerTransactionWithEveryField()
    {
        var document = Adapt("camt.054.001.02.xml");

        Assert.Empty(document.DocumentErrors);
        Assert.True(document.IsBatch);
        Assert.Equal(2, document.Items.Count);
        var credit = document.Items[0].Notification!;
        Assert.Equal("account.credit", credit.Type);
        Assert.Equal("DE89370400440532013000", credit.CustomerId);
        Assert.Equal("+4915112345678", credit.Contacts.Phone);
        Assert.Equal("ana@example.com", credit.Contacts.Email);
        Assert.Equal(Fixture.Source, credit.SourceId);
        var data = Data(credit);
        Assert.Equal("1250.00", data.GetProperty("amount").GetString());
        Assert.Equal("EUR", data.GetProperty("currency").GetString());
        Assert.Equal("credit", data.GetProperty("direction").GetString());
        Assert.Equal("2026-11-24", data.GetProperty("bookingDate").GetString());
        Assert.Equal("ACME GmbH", data.GetProperty("counterparty").GetString());
        Assert.Equal("DE02120300000000202051", data.GetProperty("counterpartyAccount").GetString());
        Assert.Equal("Invoice 4711", data.GetProperty("remittance").GetString());
        Assert.Equal("TX-ASR-0001", credit.ExternalId);
        Assert.Equal("Incoming payment: +1250.00 EUR to account …3000 from ACME GmbH (Invoice 4711), booked 2026-11-24.", data.GetProperty("text").GetString());
        Assert.Equal("/Document/BkToCstmrDbtCdtNtfctn/Ntfctn[1]/Ntry[1]/NtryDtls/TxDtls[1]", document.Items[0].Location);

        var debit = document.Items[1].Notification!;
        Assert.Equal("account.debit", debit.Type);
        Assert.Equal("49.99", Data(debit).GetProperty("amount").GetString());
        Assert.Equal("Stadtwerke Musterstadt", Data(debit).GetProperty("counterparty").GetString());
        // EndToEndId NOTPROVIDED is no reference: the entry's own reference with the transaction's position is.
        Assert.Equal("ASR-0002#1", debit.ExternalId);
    }

    [Theory]
    [InlineData("camt.054.001.02.xml", "02", 2)]
    [InlineData("camt.054.001.04.xml", "04", 2)]
    [InlineData("camt.054.001.06.xml", "06", 1)]
    [InlineData("camt.054.001.08.xml", "08", 1)]
    public void Adapt_EachVersion_IsDetectedByNamespaceAndMapped(string fixture, string version, int expected)
    {
        var document = Adapt(fixture);

        Assert.Empty(document.DocumentErrors);
        Assert.Equal(expected, document.Items.Count);
        Assert.All(document.Items, i => Assert.Empty(i.Errors));
        Assert.All(document.Items, i => Assert.Equal("camt.054.001." + version, Data(i.Notification!).GetProperty("camtVersion").GetString()));
    }

    [Fact]
    public void Adapt_Version04_BatchedEntry_SplitsIntoTransactionsWithTheirAmounts()
    {
        var items = Adapt("camt.054.001.04.xml").Items;

        Assert.Equal(["100.00", "200.00"], items.Select(i => Data(i.Notification!).GetProperty("amount").GetString()));
        Assert.Equal(["V4-TX-1", "V4-TX-2"], items.Select(i => i.Notification!.ExternalId));
        Assert.Equal("RF18539007547034", Data(items[0].Notification!).GetProperty("remittance").GetString());
        Assert.Equal("Rent December", Data(items[1].Notification!).GetProperty("remittance").GetString());
        // The IBAN printed in groups of four finds the same account's contacts.
        Assert.Equal("DE89370400440532013000", items[0].Notification!.CustomerId);
        Assert.Equal("2026-11-24T09:10:00+01:00", Data(items[0].Notification!).GetProperty("bookingDate").GetString());
    }

    [Fact]
    public void Adapt_Version06_EntryWithoutDetails_IsOneNotificationWithCodedStatus()
    {
        var n = Assert.Single(Adapt("camt.054.001.06.xml").Items).Notification!;

        Assert.Equal("account.debit", n.Type);
        Assert.Equal("123456789", n.Contacts.TelegramChatId);
        Assert.Equal("BOOK", Data(n).GetProperty("status").GetString());
        Assert.Equal("CHF", Data(n).GetProperty("currency").GetString());
    }

    [Fact]
    public void Adapt_Version08_ReadsPartyNameNestedInPty()
    {
        var n = Assert.Single(Adapt("camt.054.001.08.xml").Items).Notification!;

        Assert.Equal("Online Shop AG", Data(n).GetProperty("counterparty").GetString());
        Assert.Equal("E2E-V8-1", n.ExternalId);
    }

    [Fact]
    public void Adapt_SameDocumentTwice_GivesTheSameDedupeKeys_AndEveryItemItsOwn()
    {
        var first = Adapt("camt.054.001.02.xml").Items.Select(i => i.Notification!.DedupeKey).ToList();
        var second = Adapt("camt.054.001.02.xml").Items.Select(i => i.Notification!.DedupeKey).ToList();
        var other = Adapt("camt.054.001.04.xml").Items.Select(i => i.Notification!.DedupeKey).ToList();

        Assert.Equal(first, second);
        Assert.Equal(first.Count + other.Count, first.Concat(other).Distinct().Count());
        Assert.All(first, k => Assert.StartsWith("src:" + Fixture.Source.ToString("N") + ":camt:", k, StringComparison.Ordinal));
    }

    [Fact]
    public void Adapt_ExternalEntity_IsRefusedWithoutReadingIt()
    {
        var document = Adapt("xxe.xml");

        Assert.Empty(document.Items);
        var error = Assert.Single(document.DocumentErrors);
        Assert.Contains("DTD", error.Detail, StringComparison.Ordinal);
        Assert.DoesNotContain("root:", error.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public void Adapt_BillionLaughs_IsRefusedWithoutExpanding()
    {
        var before = GC.GetAllocatedBytesForCurrentThread();
        var document = Adapt("billion-laughs.xml");
        var allocated = GC.GetAllocatedBytesForCurrentThread() - before;

        Assert.Empty(document.Items);
        Assert.Contains("DTD", Assert.Single(document.DocumentErrors).Detail, StringComparison.Ordinal);
        // Expanding would take gigabytes; refusing takes the document's own size, give or take.
        Assert.True(allocated < 16 * 1024 * 1024, $"allocated {allocated} bytes");
    }

    [Fact]
    public void Adapt_OtherMessage_IsRefusedNamingTheNamespace()
    {
        var document = AdaptText("""<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.053.001.02"><BkToCstmrStmt/></Document>""");

        var error = Assert.Single(document.DocumentErrors);
        Assert.Equal("/Document", error.Pointer);
        Assert.Contains("camt.053.001.02", error.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public void Adapt_MissingAmountAndBadIndicator_RefusesDocumentWithXPaths()
    {
        var xml = Fixture.Text("camt054/camt.054.001.02.xml")
            .Replace("<Amt Ccy=\"EUR\">1250.00</Amt>\n        <CdtDbtInd>CRDT</CdtDbtInd>", "<CdtDbtInd>CRDT</CdtDbtInd>", StringComparison.Ordinal)
            .Replace("<CdtDbtInd>DBIT</CdtDbtInd>", "<CdtDbtInd>DEBIT</CdtDbtInd>", StringComparison.Ordinal);

        var document = AdaptText(xml);

        Assert.Empty(document.Items);
        Assert.Equal(
            ["/Document/BkToCstmrDbtCdtNtfctn/Ntfctn[1]/Ntry[1]/Amt", "/Document/BkToCstmrDbtCdtNtfctn/Ntfctn[1]/Ntry[2]/CdtDbtInd"],
            document.DocumentErrors.Select(e => e.Pointer));
    }

    [Fact]
    public void Adapt_BatchBookingWithATransactionWithoutAmount_RejectsThatTransaction_InsteadOfGivingItTheBatchTotal()
    {
        var xml = Encoding.UTF8.GetString(Fixture.Bytes("camt054/camt.054.001.04.xml"))
            .Replace("""<Amt Ccy="EUR">200.00</Amt>""", "", StringComparison.Ordinal);

        var document = AdaptText(xml);

        Assert.Empty(document.DocumentErrors);
        Assert.Equal("100.00", Data(document.Items[0].Notification!).GetProperty("amount").GetString());
        Assert.Null(document.Items[1].Notification);
        Assert.Equal("/Document/BkToCstmrDbtCdtNtfctn/Ntfctn[1]/Ntry[1]/NtryDtls/TxDtls[2]/Amt", document.Items[1].Errors[0].Pointer);
    }

    [Fact]
    public void Adapt_AccountWithoutContacts_NamesTheAccountAsCustomer_ForTheStoredCustomerToFillIn()
    {
        var settings = Settings with { Accounts = new Dictionary<string, Native.CustomerRequest>(), DefaultContacts = null, CustomerIdFromAccount = true };

        var document = Adapt("camt.054.001.02.xml", settings);

        Assert.Empty(document.DocumentErrors);
        Assert.NotEmpty(document.Items);
        Assert.All(document.Items, i => Assert.Equal(("DE89370400440532013000", null), (i.Notification!.CustomerId, i.Notification.Contacts.Phone)));
    }

    [Fact]
    public void Adapt_AccountWithoutContacts_NorAccountAsCustomer_RejectsOnlyItsItems()
    {
        var settings = Settings with { Accounts = new Dictionary<string, Native.CustomerRequest>(), DefaultContacts = null, CustomerIdFromAccount = false };

        var document = Adapt("camt.054.001.02.xml", settings);

        Assert.Empty(document.DocumentErrors);
        Assert.All(document.Items, i => Assert.Null(i.Notification));
        Assert.Contains("No contacts for account DE89370400440532013000", document.Items[0].Errors[0].Detail, StringComparison.Ordinal);
        Assert.Equal(document.Items[0].Location, document.Items[0].Errors[0].Pointer);
    }

    [Fact]
    public void Adapt_DebitsOff_TakesOnlyCredits()
    {
        var document = Adapt("camt.054.001.02.xml", Settings with { Debits = false });

        Assert.Equal(["account.credit"], document.Items.Select(i => i.Notification!.Type));
    }

    [Fact]
    public void Adapt_NestingBeyondTheLimit_IsRefused()
    {
        var xml = "<Document xmlns=\"urn:iso:std:iso:20022:tech:xsd:camt.054.001.02\">" + string.Concat(Enumerable.Repeat("<a>", 200)) + string.Concat(Enumerable.Repeat("</a>", 200)) + "</Document>";

        var error = Assert.Single(AdaptText(xml).DocumentErrors);

        Assert.Contains("Nested deeper", error.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public void Adapt_LargerThanTheCharacterLimit_IsRefused()
    {
        var error = Assert.Single(Camt054Adapter.Adapt(Fixture.Bytes("camt054/camt.054.001.02.xml"), Settings, Fixture.Tenant, Fixture.Source, 500).DocumentErrors);

        Assert.Contains("larger than 500 characters", error.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public void Adapt_NotWellFormed_NamesLineAndPosition()
    {
        var error = Assert.Single(AdaptText("<Document xmlns=\"urn:iso:std:iso:20022:tech:xsd:camt.054.001.02\">\n<BkToCstmrDbtCdtNtfctn>\n</Document>").DocumentErrors);

        Assert.StartsWith("line 3", error.Pointer, StringComparison.Ordinal);
    }

    [Fact]
    public void Settings_ParseWithBadContacts_LocatesTheAccount()
    {
        Fixture.Config(SourceAdapter.Iso20022, """{"accounts":{"DE1":{"phone":"123"}},"credits":"yes"}""", out var errors);

        Assert.Equal(["/settings/accounts/DE1/phone", "/settings/credits"], errors.Select(e => e.Pointer));
    }
}
