using System.Collections.Concurrent;
using System.Globalization;
using System.Text.Json;
using Herald.Sandbox.Mailbox;
using Herald.Sandbox.Settings;
using Herald.Sandbox.Throttling;

namespace Herald.Sandbox.Telegram;

/// <summary>
/// The Bot API's <c>/bot{token}/{method}</c>: parameters from the query string, urlencoded or multipart forms
/// and JSON bodies, answers <c>{"ok":true,"result":…}</c> or <c>{"ok":false,"error_code":…,"description":…}</c>.
/// </summary>
public sealed class TelegramSimulator(
    SandboxSettings settings,
    SandboxMailbox mailbox,
    SandboxRateLimiter rateLimiter,
    SandboxStats stats,
    TimeProvider time)
{
    /// <summary>Channel name used in the mailbox and stats.</summary>
    public const string ChannelName = "telegram";

    // One counter per bot, not per chat: ids stay unique and increasing within every chat (what the Bot API promises),
    // and the simulator's memory does not grow with every new chat (a soak found 529,500 per-chat counters, ~70 MB,
    // after 4 minutes of distinct recipients).
    private readonly ConcurrentDictionary<string, StrongBox> messageIds = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, WebhookInfo> webhooks = new(StringComparer.Ordinal);

    /// <summary>Handles one Bot API call.</summary>
    public async Task<IResult> HandleAsync(HttpContext context, string token, string method, CancellationToken cancellationToken)
    {
        var current = settings.Current;
        if (current.LatencyMs > 0)
        {
            await Task.Delay(TimeSpan.FromMilliseconds(current.LatencyMs), time, cancellationToken).ConfigureAwait(false);
        }

        var botId = BotId(token);
        if (botId is null)
        {
            return Error(StatusCodes.Status401Unauthorized, "Unauthorized");
        }

        Dictionary<string, string> parameters;
        try
        {
            parameters = await ReadParametersAsync(context.Request, cancellationToken).ConfigureAwait(false);
        }
        catch (JsonException)
        {
            return Error(StatusCodes.Status400BadRequest, "Bad Request: can't parse JSON object");
        }

        // Bot API method names are case-insensitive.
        return method.ToLowerInvariant() switch
        {
            "getme" => Ok(BotUser(botId.Value)),
            "sendmessage" => SendMessage(token, botId.Value, parameters, current),
            "setwebhook" => SetWebhook(token, parameters),
            "answercallbackquery" => AnswerCallbackQuery(botId.Value, parameters),
            "deletewebhook" => DeleteWebhook(token),
            "getwebhookinfo" => GetWebhookInfo(token),
            _ => Error(StatusCodes.Status404NotFound, "Not Found"),
        };
    }

    /// <summary>Forgets message counters and webhooks.</summary>
    public void Reset()
    {
        messageIds.Clear();
        webhooks.Clear();
    }

    private IResult SendMessage(string token, long botId, Dictionary<string, string> parameters, SandboxSettingsSnapshot current)
    {
        var account = botId.ToString(CultureInfo.InvariantCulture);
        if (!parameters.TryGetValue("chat_id", out var chatId) || string.IsNullOrWhiteSpace(chatId))
        {
            stats.Rejected(ChannelName, account);
            return Error(StatusCodes.Status400BadRequest, "Bad Request: chat_id is empty");
        }

        if (!parameters.TryGetValue("text", out var text) || string.IsNullOrWhiteSpace(text))
        {
            stats.Rejected(ChannelName, account);
            return Error(StatusCodes.Status400BadRequest, "Bad Request: message text is empty");
        }

        if (text.Length > 4096)
        {
            stats.Rejected(ChannelName, account);
            return Error(StatusCodes.Status400BadRequest, "Bad Request: message is too long");
        }

        IReadOnlyList<SandboxButton>? buttons = null;
        if (parameters.TryGetValue("reply_markup", out var markup) && markup.Length > 0)
        {
            buttons = InlineKeyboard(markup, out var markupError);
            if (markupError is not null)
            {
                stats.Rejected(ChannelName, account);
                return Error(StatusCodes.Status400BadRequest, "Bad Request: " + markupError);
            }
        }

        var chat = Chat(chatId);
        if (chat is null)
        {
            stats.Rejected(ChannelName, account);
            return Error(StatusCodes.Status400BadRequest, "Bad Request: chat not found");
        }

        var rate = rateLimiter.TryAcquire(ChannelName + ":" + token, current.RatePerSecond);
        if (!rate.Allowed)
        {
            stats.RateLimited(ChannelName, account);
            return Results.Json(
                new
                {
                    ok = false,
                    error_code = 429,
                    description = $"Too Many Requests: retry after {rate.RetryAfterSeconds}",
                    parameters = new { retry_after = rate.RetryAfterSeconds },
                },
                statusCode: StatusCodes.Status429TooManyRequests);
        }

        if (chatId.EndsWith(MagicRecipients.BotBlocked, StringComparison.Ordinal))
        {
            stats.Rejected(ChannelName, account);
            return Error(StatusCodes.Status403Forbidden, "Forbidden: bot was blocked by the user");
        }

        var messageId = Interlocked.Increment(ref messageIds.GetOrAdd(token, static _ => new StrongBox()).Value);
        var now = time.GetUtcNow();
        mailbox.Add(new SandboxMessage(
            ChannelName,
            chatId,
            text,
            null,
            messageId.ToString(CultureInfo.InvariantCulture),
            now,
            account) { Buttons = buttons, Credential = SandboxMessage.CredentialOf(token) });
        stats.Accepted(ChannelName, account);

        return Ok(new
        {
            message_id = messageId,
            from = BotUser(botId),
            chat,
            date = now.ToUnixTimeSeconds(),
            text,
        });
    }

    /// <summary>The callback queries answered, by id (what a test checks the connector answered).</summary>
    public IReadOnlyCollection<string> AnsweredCallbackQueries => _answered.Keys.ToArray();

    private readonly ConcurrentDictionary<string, long> _answered = new(StringComparer.Ordinal);

    private IResult AnswerCallbackQuery(long botId, Dictionary<string, string> parameters)
    {
        if (!parameters.TryGetValue("callback_query_id", out var id) || string.IsNullOrEmpty(id))
        {
            return Error(StatusCodes.Status400BadRequest, "Bad Request: query is too old and response timeout expired or query ID is invalid");
        }

        _answered[id] = botId;
        return Results.Json(new { ok = true, result = true });
    }

    /// <summary>The buttons of an InlineKeyboardMarkup as the Bot API checks them: rows of buttons, each with text and
    /// callback_data of 1 to 64 bytes (or another kind of button, which the sandbox records without an id).</summary>
    private static List<SandboxButton>? InlineKeyboard(string markup, out string? error)
    {
        error = null;
        try
        {
            using var document = JsonDocument.Parse(markup);
            if (!document.RootElement.TryGetProperty("inline_keyboard", out var rows) || rows.ValueKind != JsonValueKind.Array)
            {
                error = "field \"inline_keyboard\" of the InlineKeyboardMarkup must be an Array";
                return null;
            }

            var buttons = new List<SandboxButton>();
            foreach (var row in rows.EnumerateArray())
            {
                if (row.ValueKind != JsonValueKind.Array)
                {
                    error = "field \"inline_keyboard\" of the InlineKeyboardMarkup must be an Array of Arrays";
                    return null;
                }

                foreach (var button in row.EnumerateArray())
                {
                    if (button.ValueKind != JsonValueKind.Object || !button.TryGetProperty("text", out var text) || text.ValueKind != JsonValueKind.String)
                    {
                        error = "can't parse inline keyboard button: Text buttons are unallowed in the inline keyboard";
                        return null;
                    }

                    if (button.TryGetProperty("callback_data", out var data))
                    {
                        if (data.ValueKind != JsonValueKind.String || System.Text.Encoding.UTF8.GetByteCount(data.GetString()!) is 0 or > 64)
                        {
                            error = "BUTTON_DATA_INVALID";
                            return null;
                        }

                        buttons.Add(new SandboxButton(data.GetString()!, text.GetString()!));
                    }
                }
            }

            return buttons;
        }
        catch (JsonException)
        {
            error = "can't parse reply keyboard markup JSON object";
            return null;
        }
    }

    private IResult SetWebhook(string token, Dictionary<string, string> parameters)
    {
        if (!parameters.TryGetValue("url", out var url) || string.IsNullOrEmpty(url))
        {
            return DeleteWebhook(token);
        }

        if (!Uri.TryCreate(url, UriKind.Absolute, out var uri) || uri.Scheme is not ("https" or "http"))
        {
            return Error(StatusCodes.Status400BadRequest, "Bad Request: bad webhook: Failed to resolve host: Name or service not known");
        }

        var maxConnections = parameters.TryGetValue("max_connections", out var max)
            && int.TryParse(max, NumberStyles.Integer, CultureInfo.InvariantCulture, out var parsed) ? parsed : 40;
        string[]? allowedUpdates = null;
        if (parameters.TryGetValue("allowed_updates", out var allowed) && allowed.StartsWith('['))
        {
            allowedUpdates = JsonSerializer.Deserialize<string[]>(allowed);
        }

        webhooks[token] = new WebhookInfo(url, maxConnections, allowedUpdates);
        return Results.Json(new { ok = true, result = true, description = "Webhook was set" });
    }

    private IResult DeleteWebhook(string token) => webhooks.TryRemove(token, out _)
        ? Results.Json(new { ok = true, result = true, description = "Webhook was deleted" })
        : Results.Json(new { ok = true, result = true, description = "Webhook is already deleted" });

    private IResult GetWebhookInfo(string token)
    {
        if (!webhooks.TryGetValue(token, out var info))
        {
            return Ok(new { url = string.Empty, has_custom_certificate = false, pending_update_count = 0 });
        }

        return info.AllowedUpdates is null
            ? Ok(new { url = info.Url, has_custom_certificate = false, pending_update_count = 0, max_connections = info.MaxConnections })
            : Ok(new
            {
                url = info.Url,
                has_custom_certificate = false,
                pending_update_count = 0,
                max_connections = info.MaxConnections,
                allowed_updates = info.AllowedUpdates,
            });
    }

    private static object? Chat(string chatId)
    {
        if (long.TryParse(chatId, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var id))
        {
            return id > 0
                ? new { id, first_name = "Sandbox", last_name = "Customer", type = "private" }
                : new { id, title = "Sandbox group", type = id < -1_000_000_000_000 ? "supergroup" : "group" };
        }

        if (chatId.Length > 1 && chatId[0] == '@')
        {
            var username = chatId[1..];
            var derived = -1_000_000_000_000 - (long)(uint)StringComparer.Ordinal.GetHashCode(username);
            return new { id = derived, title = username, username, type = "channel" };
        }

        return null;
    }

    private static object BotUser(long botId) => new
    {
        id = botId,
        is_bot = true,
        first_name = "Herald Sandbox",
        username = "herald_sandbox_bot",
        can_join_groups = true,
        can_read_all_group_messages = false,
        supports_inline_queries = false,
        can_connect_to_business = false,
        has_main_web_app = false,
    };

    // Real tokens look like "123456:ABC-DEF…"; the number before the colon is the bot's user id.
    private static long? BotId(string token)
    {
        var colon = token.IndexOf(':', StringComparison.Ordinal);
        return colon > 0 && colon < token.Length - 1
            && long.TryParse(token.AsSpan(0, colon), NumberStyles.None, CultureInfo.InvariantCulture, out var id)
            ? id
            : null;
    }

    private static async Task<Dictionary<string, string>> ReadParametersAsync(HttpRequest request, CancellationToken cancellationToken)
    {
        var parameters = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var (key, value) in request.Query)
        {
            parameters[key] = value.ToString();
        }

        if (request.HasFormContentType)
        {
            var form = await request.ReadFormAsync(cancellationToken).ConfigureAwait(false);
            foreach (var (key, value) in form)
            {
                parameters[key] = value.ToString();
            }
        }
        else if (request.ContentType?.Contains("json", StringComparison.OrdinalIgnoreCase) == true)
        {
            using var document = await JsonDocument.ParseAsync(request.Body, default, cancellationToken).ConfigureAwait(false);
            if (document.RootElement.ValueKind != JsonValueKind.Object)
            {
                throw new JsonException("Not an object.");
            }

            foreach (var property in document.RootElement.EnumerateObject())
            {
                parameters[property.Name] = property.Value.ValueKind switch
                {
                    JsonValueKind.String => property.Value.GetString()!,
                    JsonValueKind.Null => string.Empty,
                    _ => property.Value.GetRawText(),
                };
            }
        }

        return parameters;
    }

    private static IResult Ok(object result) => Results.Json(new { ok = true, result });

    private static IResult Error(int status, string description) =>
        Results.Json(new { ok = false, error_code = status, description }, statusCode: status);

    private sealed record WebhookInfo(string Url, int MaxConnections, string[]? AllowedUpdates);

    private sealed class StrongBox
    {
        public long Value;
    }
}
