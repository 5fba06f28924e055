using System.Text.Json;
using Herald.Ingest.Mapped;
using Herald.Ingest.Native;

namespace Herald.Ingest.Iso20022;

/// <summary>
/// How a camt.054 source finds the customer of an entry. The account (IBAN, else the other id) is the customer id
/// (<see cref="CustomerIdFromAccount"/>); contacts come from <see cref="Accounts"/> (per account) or
/// <see cref="DefaultContacts"/>, else, with the account as customer id, from the stored customer at ingest.
/// </summary>
public sealed record Camt054Settings(
    IReadOnlyDictionary<string, CustomerRequest> Accounts, CustomerRequest? DefaultContacts, bool CustomerIdFromAccount, bool Credits, bool Debits)
{
    public const int MaxAccounts = 10_000;

    public static readonly Camt054Settings Empty = new(new Dictionary<string, CustomerRequest>(), null, true, true, true);

    /// <summary>Validates the settings object; errors point into it with prefix <paramref name="p"/>.</summary>
    public static (Camt054Settings? Settings, IReadOnlyList<InputError> Errors) Parse(JsonElement json, string p)
    {
        var errors = new List<InputError>();
        if (json.ValueKind == JsonValueKind.Undefined || json.ValueKind == JsonValueKind.Null)
        {
            return (Empty, errors);
        }

        if (json.ValueKind != JsonValueKind.Object)
        {
            return (null, [new InputError(p, "Must be an object.")]);
        }

        var accounts = new Dictionary<string, CustomerRequest>(StringComparer.Ordinal);
        CustomerRequest? defaults = null;
        bool customerId = true, credits = true, debits = true;
        foreach (var property in json.EnumerateObject())
        {
            var at = p + "/" + FieldMapping.Escape(property.Name);
            switch (property.Name)
            {
                case "accounts" when property.Value.ValueKind == JsonValueKind.Object:
                    foreach (var account in property.Value.EnumerateObject())
                    {
                        if (accounts.Count >= MaxAccounts)
                        {
                            errors.Add(new(at, $"At most {MaxAccounts} accounts; beyond that, use stored customers."));
                            break;
                        }

                        if (Contacts(account.Value, at + "/" + FieldMapping.Escape(account.Name), errors) is { } c)
                        {
                            accounts[Normalise(account.Name)] = c;
                        }
                    }

                    break;
                case "defaultContacts":
                    defaults = Contacts(property.Value, at, errors);
                    break;
                case "customerIdFromAccount" or "credits" or "debits" when property.Value.ValueKind is JsonValueKind.True or JsonValueKind.False:
                    var value = property.Value.GetBoolean();
                    _ = property.Name switch
                    {
                        "customerIdFromAccount" => customerId = value,
                        "credits" => credits = value,
                        _ => debits = value,
                    };
                    break;
                case "customerIdFromAccount" or "credits" or "debits":
                    errors.Add(new(at, "Must be true or false."));
                    break;
                default:
                    errors.Add(new(at, "Unknown; use accounts, defaultContacts, customerIdFromAccount, credits or debits."));
                    break;
            }
        }

        return errors.Count > 0 ? (null, errors) : (new Camt054Settings(accounts, defaults, customerId, credits, debits), errors);
    }

    /// <summary>Account ids compare without spaces and case (IBANs are often printed in groups of four).</summary>
    public static string Normalise(string account) => account.Replace(" ", "", StringComparison.Ordinal).ToUpperInvariant();

    private static CustomerRequest? Contacts(JsonElement json, string at, List<InputError> errors)
    {
        CustomerRequest? c;
        try
        {
            c = json.Deserialize(NativeJsonContext.Default.CustomerRequest);
        }
        catch (JsonException)
        {
            errors.Add(new(at, "Must be contacts: {\"phone\", \"telegramChatId\", \"email\", \"pushToken\", \"language\"}."));
            return null;
        }

        if (c is null)
        {
            errors.Add(new(at, "Must be an object of contacts."));
            return null;
        }

        // The native validator knows what a good contact is; reuse it on a stand-in notification.
        var (_, invalid) = NotificationParser.Validate(new NotificationRequest { Type = "account.credit", Customer = c }, Guid.Empty, null, null);
        foreach (var e in invalid)
        {
            errors.Add(new(at + e.Pointer.Replace("/customer", "", StringComparison.Ordinal), e.Detail));
        }

        return invalid.Count == 0 ? c : null;
    }
}
