using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Xml;
using System.Xml.Linq;
using Herald.Ingest.Mapped;
using Herald.Ingest.Native;

namespace Herald.Ingest.Iso20022;

/// <summary>
/// The <c>iso20022</c> adapter: camt.054 BankToCustomerDebitCreditNotification, versions 001.02 to 001.08 (told
/// apart by namespace). One notification per transaction (TxDtls), or per entry (Ntry) without transaction details,
/// of type <c>account.credit</c> or <c>account.debit</c>. Hardened: no DTD (so no external entities and no entity
/// expansion), no resolver, a character limit and a nesting limit. A document that is not well formed or lacks a
/// required element is refused as a whole with XPath-located errors; per-item problems (an account without contacts)
/// reject only that item. Pure; thread-safe.
/// </summary>
public static class Camt054Adapter
{
    public const int MaxDepth = 32;
    public const string NamespacePrefix = "urn:iso:std:iso:20022:tech:xsd:camt.054.001.";
    public static readonly IReadOnlyList<string> SupportedVersions = ["02", "03", "04", "05", "06", "07", "08"];

    public static AdaptedDocument Adapt(ReadOnlyMemory<byte> body, Camt054Settings settings, Guid tenantId, Guid sourceId, long maxCharacters)
    {
        var readerSettings = new XmlReaderSettings
        {
            DtdProcessing = DtdProcessing.Prohibit,
            XmlResolver = null,
            MaxCharactersInDocument = maxCharacters,
            MaxCharactersFromEntities = 1024,
            IgnoreComments = true,
            IgnoreProcessingInstructions = true,
            IgnoreWhitespace = true,
        };

        XDocument document;
        try
        {
            // Pass one checks the nesting depth while streaming (XDocument itself has no depth limit); pass two loads.
            using (var reader = XmlReader.Create(new MemoryStream(body.ToArray(), writable: false), readerSettings))
            {
                while (reader.Read())
                {
                    if (reader.Depth > MaxDepth)
                    {
                        var info = (IXmlLineInfo)reader;
                        return AdaptedDocument.Refused(new InputError($"line {info.LineNumber}, position {info.LinePosition}",
                            $"Nested deeper than {MaxDepth} levels; refused."));
                    }
                }
            }

            using var load = XmlReader.Create(new MemoryStream(body.ToArray(), writable: false), readerSettings);
            document = XDocument.Load(load, LoadOptions.None);
        }
        catch (XmlException e)
        {
            var where = e.LineNumber > 0 ? $"line {e.LineNumber}, position {e.LinePosition}" : "/";
            var reason = e.Message.Contains("DTD", StringComparison.OrdinalIgnoreCase)
                ? "Document type declarations (DTD) are refused: no external entities and no entity expansion are processed."
                : e.Message.Contains("MaxCharacters", StringComparison.OrdinalIgnoreCase) || e.Message.Contains("exceed", StringComparison.OrdinalIgnoreCase)
                    ? $"The document is larger than {maxCharacters} characters; refused."
                    : "Not well-formed XML: " + e.Message;
            return AdaptedDocument.Refused(new InputError(where, reason));
        }

        var root = document.Root!;
        var ns = root.Name.Namespace.NamespaceName;
        var version = ns.StartsWith(NamespacePrefix, StringComparison.Ordinal) ? ns[NamespacePrefix.Length..] : null;
        if (root.Name.LocalName != "Document" || version is null || !SupportedVersions.Contains(version))
        {
            return AdaptedDocument.Refused(new InputError("/" + root.Name.LocalName,
                $"Not a supported camt.054 document: expected <Document xmlns=\"{NamespacePrefix}0N\"> with N from 2 to 8, found namespace '{(ns.Length <= 100 ? ns : ns[..100])}'."));
        }

        return new Reader(root.Name.Namespace, settings, tenantId, sourceId, version).Read(root);
    }

    private sealed class Reader(XNamespace ns, Camt054Settings settings, Guid tenantId, Guid sourceId, string version)
    {
        private readonly List<InputError> _errors = [];
        private readonly List<AdaptedItem> _items = [];

        public AdaptedDocument Read(XElement root)
        {
            const string docPath = "/Document/BkToCstmrDbtCdtNtfctn";
            var body = root.Element(ns + "BkToCstmrDbtCdtNtfctn");
            if (body is null)
            {
                return AdaptedDocument.Refused(new InputError(docPath, "Required."));
            }

            var messageId = Text(body, "GrpHdr", "MsgId");
            var notifications = body.Elements(ns + "Ntfctn").ToList();
            if (notifications.Count == 0)
            {
                return AdaptedDocument.Refused(new InputError(docPath + "/Ntfctn", "Required: at least one notification."));
            }

            for (var i = 0; i < notifications.Count; i++)
            {
                ReadNotification(notifications[i], $"{docPath}/Ntfctn[{i + 1}]", messageId);
            }

            if (_errors.Count > 0)
            {
                return new AdaptedDocument([], _errors, false);
            }

            return _items.Count == 0
                ? AdaptedDocument.Refused(new InputError(docPath, "The document holds no entries to notify (Ntry), or none the source's settings take."))
                : new AdaptedDocument(_items, [], true);
        }

        private void ReadNotification(XElement ntfctn, string path, string? messageId)
        {
            var account = Text(ntfctn, "Acct", "Id", "IBAN") ?? Text(ntfctn, "Acct", "Id", "Othr", "Id");
            if (account is null)
            {
                _errors.Add(new(path + "/Acct/Id/IBAN", "Required: the account (IBAN, or Othr/Id)."));
                return;
            }

            account = Camt054Settings.Normalise(account);
            var entries = ntfctn.Elements(ns + "Ntry").ToList();
            for (var j = 0; j < entries.Count; j++)
            {
                ReadEntry(entries[j], $"{path}/Ntry[{j + 1}]", account, messageId);
            }
        }

        private void ReadEntry(XElement ntry, string path, string account, string? messageId)
        {
            var before = _errors.Count;
            var amount = Amount(ntry.Element(ns + "Amt"), path + "/Amt", required: true);
            var credit = Direction(ntry.Element(ns + "CdtDbtInd"), path + "/CdtDbtInd", required: true);
            var booking = Date(ntry.Element(ns + "BookgDt"), path + "/BookgDt");
            var valueDate = Date(ntry.Element(ns + "ValDt"), path + "/ValDt");
            // 001.02 to 001.05 carry the status as text, 001.06 on as <Sts><Cd>.
            var status = Text(ntry, "Sts", "Cd") ?? ntry.Element(ns + "Sts")?.Value.Trim();
            var reversal = Text(ntry, "RvslInd") is "true" or "1";
            var entryRef = Text(ntry, "AcctSvcrRef") ?? Text(ntry, "NtryRef");
            if (_errors.Count > before)
            {
                return;
            }

            var transactions = ntry.Elements(ns + "NtryDtls").SelectMany(d => d.Elements(ns + "TxDtls")).ToList();
            if (transactions.Count == 0)
            {
                Add(path, account, entryRef ?? Hash(ntry), amount!.Value, credit!.Value, booking, valueDate, status, reversal, null, messageId);
                return;
            }

            for (var k = 0; k < transactions.Count; k++)
            {
                var tx = transactions[k];
                var txPath = $"{path}/NtryDtls/TxDtls[{k + 1}]";
                // The entry's amount stands for its transaction only when it has just one: in a batch booking it is the
                // sum, and a customer told that sum for one payment is told something false.
                var txAmount = Amount(tx.Element(ns + "Amt"), txPath + "/Amt", required: false)
                    ?? Amount(tx.Element(ns + "AmtDtls")?.Element(ns + "TxAmt")?.Element(ns + "Amt"), txPath + "/AmtDtls/TxAmt/Amt", required: false)
                    ?? (transactions.Count == 1 ? amount : null);
                if (txAmount is null)
                {
                    _items.Add(new AdaptedItem(_items.Count, txPath, null,
                        [new InputError(txPath + "/Amt", $"The transaction has no amount (Amt or AmtDtls/TxAmt/Amt) and its entry books {transactions.Count} transactions, so the entry's amount is not its own.")]));
                    continue;
                }

                var txCredit = Direction(tx.Element(ns + "CdtDbtInd"), txPath + "/CdtDbtInd", required: false) ?? credit;
                var endToEnd = Text(tx, "Refs", "EndToEndId");
                var txRef = Text(tx, "Refs", "AcctSvcrRef") ?? Text(tx, "Refs", "TxId")
                    ?? (endToEnd is null or "NOTPROVIDED" ? null : endToEnd)
                    ?? (entryRef ?? Hash(ntry)) + "#" + (k + 1).ToString(CultureInfo.InvariantCulture);
                Add(txPath, account, txRef, txAmount!.Value, txCredit!.Value, booking, valueDate, status, reversal, tx, messageId);
            }
        }

        private void Add(
            string path, string account, string reference, (decimal Value, string Currency) amount, bool credit, string? booking, string? valueDate,
            string? status, bool reversal, XElement? tx, string? messageId)
        {
            if ((credit && !settings.Credits) || (!credit && !settings.Debits))
            {
                return;
            }

            // The counterparty is who paid (for a credit) or who was paid (for a debit). 001.08 nests the name in <Pty>.
            var party = tx?.Element(ns + "RltdPties")?.Element(ns + (credit ? "Dbtr" : "Cdtr"));
            var counterparty = party is null ? null : Text(party, "Nm") ?? Text(party, "Pty", "Nm");
            var counterpartyAccount = tx is null ? null
                : Text(tx, "RltdPties", credit ? "DbtrAcct" : "CdtrAcct", "Id", "IBAN") ?? Text(tx, "RltdPties", credit ? "DbtrAcct" : "CdtrAcct", "Id", "Othr", "Id");
            var remittance = tx is null ? null : RemittanceOf(tx);

            var amountText = amount.Value.ToString("0.00##", CultureInfo.InvariantCulture);
            var text = new StringBuilder()
                .Append(credit ? "Incoming payment: +" : "Payment: -").Append(amountText).Append(' ').Append(amount.Currency)
                .Append(credit ? " to account " : " from account ").Append(Mask(account));
            if (counterparty is not null)
            {
                text.Append(credit ? " from " : " to ").Append(counterparty);
            }

            if (remittance is not null)
            {
                text.Append(" (").Append(remittance).Append(')');
            }

            if (booking is not null)
            {
                text.Append(", booked ").Append(booking);
            }

            text.Append('.');

            var data = new Dictionary<string, string?>
            {
                ["text"] = text.ToString(),
                ["amount"] = amountText,
                ["currency"] = amount.Currency,
                ["direction"] = credit ? "credit" : "debit",
                ["account"] = account,
                ["bookingDate"] = booking,
                ["valueDate"] = valueDate,
                ["counterparty"] = counterparty,
                ["counterpartyAccount"] = counterpartyAccount,
                ["remittance"] = remittance,
                ["reference"] = reference,
                ["status"] = status,
                ["reversal"] = reversal ? "true" : null,
                ["messageId"] = messageId,
                ["camtVersion"] = "camt.054.001." + version,
            };
            var dataJson = JsonSerializer.Serialize(data.Where(d => d.Value is not null).ToDictionary(d => d.Key, d => d.Value!), IngestJsonContext.Default.DictionaryStringString);

            // Contacts configured on the source win; else, with the account as customer id, the stored customer
            // (/v1/customers) gives them at ingest, and an account Herald does not know is refused there, per item.
            var contacts = settings.Accounts.GetValueOrDefault(account) ?? settings.DefaultContacts
                ?? (settings.CustomerIdFromAccount ? new CustomerRequest() : null);
            var index = _items.Count;
            if (contacts is null)
            {
                _items.Add(new AdaptedItem(index, path, null, [new InputError(path,
                    $"No contacts for account {account}: add it to the source's 'accounts', set 'defaultContacts', or set 'customerIdFromAccount' and store the customer.")]));
                return;
            }

            var externalId = reference.Length <= NotificationParser.MaxKeyLength ? reference : reference[..NotificationParser.MaxKeyLength];
            var request = new NotificationRequest
            {
                Type = credit ? "account.credit" : "account.debit",
                Customer = contacts with { Id = settings.CustomerIdFromAccount ? account : contacts.Id },
                ExternalId = externalId,
            };
            var (notification, errors) = NotificationParser.Validate(request, tenantId, sourceId, null);
            if (notification is null)
            {
                _items.Add(new AdaptedItem(index, path, null, [.. errors.Select(e => new InputError(path, "source settings" + e.Pointer + ": " + e.Detail))]));
                return;
            }

            var key = "src:" + sourceId.ToString("N") + ":camt:" + Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(account + "\n" + reference)))[..40];
            _items.Add(new AdaptedItem(index, path, notification with { DataJson = dataJson, DedupeKey = key }, []));
        }

        private string? RemittanceOf(XElement tx)
        {
            var rmt = tx.Element(ns + "RmtInf");
            if (rmt is null)
            {
                return null;
            }

            var unstructured = string.Join(" ", rmt.Elements(ns + "Ustrd").Select(u => u.Value.Trim()).Where(u => u.Length > 0));
            if (unstructured.Length > 0)
            {
                return unstructured.Length <= 280 ? unstructured : unstructured[..280];
            }

            return rmt.Elements(ns + "Strd").Select(s => Text(s, "CdtrRefInf", "Ref")).FirstOrDefault(r => r is not null);
        }

        private (decimal Value, string Currency)? Amount(XElement? amt, string path, bool required)
        {
            if (amt is null)
            {
                if (required)
                {
                    _errors.Add(new(path, "Required: the amount with its Ccy attribute."));
                }

                return null;
            }

            var currency = amt.Attribute("Ccy")?.Value;
            if (currency is not { Length: 3 } || !currency.All(char.IsAsciiLetterUpper))
            {
                _errors.Add(new(path + "/@Ccy", "Required: an ISO 4217 currency code, e.g. \"EUR\"."));
                return null;
            }

            if (!decimal.TryParse(amt.Value.Trim(), NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out var value) || amt.Value.Length > 20)
            {
                _errors.Add(new(path, $"'{FieldMapping.Clip(amt.Value)}' is not an amount (digits with an optional decimal point)."));
                return null;
            }

            return (value, currency);
        }

        private bool? Direction(XElement? indicator, string path, bool required)
        {
            switch (indicator?.Value.Trim())
            {
                case "CRDT":
                    return true;
                case "DBIT":
                    return false;
                case null when !required:
                    return null;
                default:
                    _errors.Add(new(path, "Required: CRDT or DBIT."));
                    return null;
            }
        }

        private string? Date(XElement? date, string path)
        {
            if (date is null)
            {
                return null;
            }

            var dt = Text(date, "Dt");
            if (dt is not null && DateOnly.TryParseExact(dt, "yyyy-MM-dd", CultureInfo.InvariantCulture, DateTimeStyles.None, out var d))
            {
                return d.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture);
            }

            var dtTm = Text(date, "DtTm");
            if (dtTm is not null && DateTimeOffset.TryParse(dtTm, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var t))
            {
                return t.ToString("yyyy-MM-dd'T'HH:mm:sszzz", CultureInfo.InvariantCulture);
            }

            _errors.Add(new(path, "Must hold <Dt> (YYYY-MM-DD) or <DtTm> (ISO 8601)."));
            return null;
        }

        private string? Text(XElement element, params string[] path)
        {
            var current = element;
            foreach (var name in path)
            {
                current = current.Element(ns + name);
                if (current is null)
                {
                    return null;
                }
            }

            var value = current.Value.Trim();
            return value.Length == 0 ? null : value.Length <= 512 ? value : value[..512];
        }

        private static string Hash(XElement element) =>
            "h:" + Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(element.ToString(SaveOptions.DisableFormatting))))[..32];

        private static string Mask(string account) => account.Length <= 4 ? account : "…" + account[^4..];
    }
}

/// <summary>Source-generated JSON for the adapters' own output.</summary>
[System.Text.Json.Serialization.JsonSerializable(typeof(Dictionary<string, string>))]
internal sealed partial class IngestJsonContext : System.Text.Json.Serialization.JsonSerializerContext;
