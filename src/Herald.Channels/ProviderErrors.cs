using Herald.Core.Delivery;

namespace Herald.Channels;

/// <summary>How a connector classifies one provider error code.</summary>
internal enum ProviderErrorClass
{
    /// <summary>This message to this recipient will not succeed on this channel: move on to the next channel.</summary>
    Permanent,
    /// <summary>Provider load or outage: retry later, the circuit breaker counts it.</summary>
    Transient,
    /// <summary>Throttling: retry after the given pause.</summary>
    Throttled,
    /// <summary>
    /// The provider account itself is broken (credentials expired or revoked, permissions missing, payment issue,
    /// suspended, sender not owned). No message can go through this account, but the same message can go through
    /// another account of the channel, or later through this one once an operator fixes it. Treated as transient so
    /// the circuit breaker opens and traffic moves to the channel's other providers, instead of failing every
    /// customer's step permanently because of our own configuration.
    /// </summary>
    AccountFault,
}

/// <summary>
/// What a tenant reads about a failed send (the attempt's <c>error</c>) is Herald's own text: the class of the failure
/// and the vendor's error code, never a text from the far end. A provider's error message, an SMTP reply or an
/// exception message may carry whatever the far end chose to say — and when a tenant points an account somewhere it
/// should not, that would be the answer of a service inside the operator's network, read back through the API.
/// </summary>
internal static class ProviderErrors
{
    private static readonly TimeSpan AccountFaultPause = TimeSpan.FromSeconds(30);

    /// <summary>The outcome for a classified error; a Retry-After header wins over the class's own pause.</summary>
    /// <param name="api">Herald's name of the far end ("WhatsApp Cloud API").</param>
    public static SendOutcome Outcome(ProviderErrorClass cls, TimeSpan? pause, string errorCode, string api, TimeSpan? retryAfterHeader)
    {
        var code = SafeCode(errorCode);
        var message = Describe(api, cls, code);
        return cls switch
        {
            ProviderErrorClass.Permanent => SendOutcome.Permanent(code, message),
            ProviderErrorClass.AccountFault => SendOutcome.Transient(code, message, retryAfterHeader ?? pause ?? AccountFaultPause),
            _ => SendOutcome.Transient(code, message, retryAfterHeader ?? pause),
        };
    }

    /// <summary>"WhatsApp Cloud API error 131047: the provider will not deliver this message to this recipient".</summary>
    public static string Describe(string api, ProviderErrorClass cls, string code) => $"{api} error {SafeCode(code)}: " + cls switch
    {
        ProviderErrorClass.Permanent => "the provider will not deliver this message to this recipient",
        ProviderErrorClass.Throttled => "the provider is throttling",
        ProviderErrorClass.AccountFault => "the provider account needs attention (credentials, permissions, sender or billing)",
        _ => "the provider failed; will retry",
    };

    /// <summary>
    /// A vendor's error code as Herald shows it: letters, digits and <c>._-</c>, at most 64 characters. Codes are
    /// numbers or upper-case words for every vendor Herald speaks; anything else is the far end talking.
    /// </summary>
    public static string SafeCode(string? code)
    {
        if (string.IsNullOrEmpty(code))
        {
            return "unknown";
        }

        Span<char> buffer = stackalloc char[Math.Min(code.Length, 64)];
        var n = 0;
        foreach (var ch in code)
        {
            if (n == buffer.Length)
            {
                break;
            }

            if (char.IsAsciiLetterOrDigit(ch) || ch is '_' or '-' or '.')
            {
                buffer[n++] = ch;
            }
        }

        return n == 0 ? "unknown" : new string(buffer[..n]);
    }
}

/// <summary>
/// A provider message id as Herald stores it. The far end chooses it, and attempts of many tenants are stored in one
/// statement: a NUL or a lone surrogate (which PostgreSQL cannot store) in one tenant's id would fail every tenant's
/// outcomes of that batch. Real ids are short printable text (wamid…, SM…, chat:message, SMSC hex, FCM names,
/// Message-IDs), so anything else is replaced and the length capped.
/// </summary>
public static class ProviderMessageIds
{
    /// <summary>The longest id kept; real vendors' ids are far shorter.</summary>
    public const int MaxLength = 256;

    /// <summary>The id unchanged when it is storable printable text of at most <see cref="MaxLength"/> characters;
    /// otherwise every control character and lone surrogate replaced by '?', cut to <see cref="MaxLength"/>.</summary>
    public static string? Storable(string? id)
    {
        if (id is null || (id.Length <= MaxLength && IsClean(id)))
        {
            return id;
        }

        var chars = id.AsSpan(0, Math.Min(id.Length, MaxLength)).ToArray();
        for (var i = 0; i < chars.Length; i++)
        {
            var c = chars[i];
            if (char.IsControl(c)
                || (char.IsHighSurrogate(c) && (i + 1 >= chars.Length || !char.IsLowSurrogate(chars[i + 1])))
                || (char.IsLowSurrogate(c) && (i == 0 || !char.IsHighSurrogate(chars[i - 1]))))
            {
                chars[i] = '?';
            }
        }

        return new string(chars);
    }

    private static bool IsClean(string id)
    {
        for (var i = 0; i < id.Length; i++)
        {
            var c = id[i];
            if (char.IsControl(c))
            {
                return false;
            }

            if (char.IsSurrogate(c))
            {
                if (!char.IsHighSurrogate(c) || i + 1 >= id.Length || !char.IsLowSurrogate(id[i + 1]))
                {
                    return false;
                }

                i++;
            }
        }

        return true;
    }
}
