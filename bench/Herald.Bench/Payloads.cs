using System.Globalization;
using System.Net.Http.Headers;
using System.Text;

namespace Herald.Bench;

/// <summary>Request bodies, serialised once up front so the load generator spends little CPU per request.</summary>
public static class Payloads
{
    private static readonly MediaTypeHeaderValue Json = new("application/json");

    /// <summary>A Telegram notification to a chat id ending in 5 (never a sandbox magic recipient).</summary>
    public static string Telegram(string chatId, string type = "card.transaction", string priority = "normal") =>
        $$$"""{"type":"{{{type}}}","priority":"{{{priority}}}","channels":["telegram"],"customer":{"telegramChatId":"{{{chatId}}}"},"data":{"text":"You paid 12.50 EUR at Bench Store"}}""";

    /// <summary>A WhatsApp notification to a German mobile number ending in 6 (never a sandbox magic recipient: 0005 is one).</summary>
    public static string WhatsApp(int i) =>
        $$$"""{"type":"card.transaction","channels":["whatsapp"],"customer":{"phone":"+491512{{{(i % 1_000_000).ToString("D6", CultureInfo.InvariantCulture)}}}6"},"data":{"text":"You paid 12.50 EUR at Bench Store"}}""";

    public static string ChatId(int prefix, int i) =>
        prefix.ToString(CultureInfo.InvariantCulture) + i.ToString("D7", CultureInfo.InvariantCulture) + "5";

    /// <summary>A batch body of <paramref name="count"/> items made by <paramref name="item"/>.</summary>
    public static byte[] Batch(int start, int count, Func<int, string> item)
    {
        var sb = new StringBuilder(count * 200);
        sb.Append("{\"items\":[");
        for (var i = 0; i < count; i++)
        {
            if (i > 0)
            {
                sb.Append(',');
            }

            sb.Append(item(start + i));
        }

        sb.Append("]}");
        return Encoding.UTF8.GetBytes(sb.ToString());
    }

    public static ByteArrayContent Content(byte[] body)
    {
        var content = new ByteArrayContent(body);
        content.Headers.ContentType = Json;
        return content;
    }
}
