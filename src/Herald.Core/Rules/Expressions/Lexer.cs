using System.Globalization;
using System.Text;

namespace Herald.Core.Rules.Expressions;

internal enum TokenKind
{
    End,
    Number,
    Duration,
    Text,
    Identifier,
    And,
    Or,
    Not,
    In,
    True,
    False,
    Null,
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    Plus,
    Minus,
    Star,
    Slash,
    LParen,
    RParen,
    LBracket,
    RBracket,
    Comma,
    Dot,
}

internal readonly record struct Token(TokenKind Kind, int Position, string? Text = null, decimal Number = 0);

/// <summary>A problem in an expression, at a character offset.</summary>
internal sealed class ExpressionException(int position, string message) : Exception(message)
{
    public int Position { get; } = position;
}

internal static class Lexer
{
    public static List<Token> Tokenize(string source)
    {
        var tokens = new List<Token>();
        var i = 0;
        while (true)
        {
            while (i < source.Length && char.IsWhiteSpace(source[i]))
            {
                i++;
            }

            if (i >= source.Length)
            {
                tokens.Add(new Token(TokenKind.End, source.Length));
                return tokens;
            }

            var start = i;
            var c = source[i];
            if (char.IsAsciiDigit(c))
            {
                tokens.Add(ReadNumber(source, ref i));
                continue;
            }

            if (char.IsAsciiLetter(c) || c == '_')
            {
                while (i < source.Length && (char.IsAsciiLetterOrDigit(source[i]) || source[i] == '_'))
                {
                    i++;
                }

                var word = source[start..i];
                tokens.Add(word switch
                {
                    "and" => new Token(TokenKind.And, start),
                    "or" => new Token(TokenKind.Or, start),
                    "not" => new Token(TokenKind.Not, start),
                    "in" => new Token(TokenKind.In, start),
                    "true" => new Token(TokenKind.True, start),
                    "false" => new Token(TokenKind.False, start),
                    "null" => new Token(TokenKind.Null, start),
                    _ => new Token(TokenKind.Identifier, start, word),
                });
                continue;
            }

            if (c is '"' or '\'')
            {
                tokens.Add(ReadString(source, ref i));
                continue;
            }

            var next = i + 1 < source.Length ? source[i + 1] : '\0';
            (TokenKind kind, int length) = (c, next) switch
            {
                ('=', '=') => (TokenKind.Eq, 2),
                ('!', '=') => (TokenKind.Ne, 2),
                ('<', '=') => (TokenKind.Le, 2),
                ('>', '=') => (TokenKind.Ge, 2),
                ('&', '&') => (TokenKind.And, 2),
                ('|', '|') => (TokenKind.Or, 2),
                ('<', _) => (TokenKind.Lt, 1),
                ('>', _) => (TokenKind.Gt, 1),
                ('!', _) => (TokenKind.Not, 1),
                ('+', _) => (TokenKind.Plus, 1),
                ('-', _) => (TokenKind.Minus, 1),
                ('*', _) => (TokenKind.Star, 1),
                ('/', _) => (TokenKind.Slash, 1),
                ('(', _) => (TokenKind.LParen, 1),
                (')', _) => (TokenKind.RParen, 1),
                ('[', _) => (TokenKind.LBracket, 1),
                (']', _) => (TokenKind.RBracket, 1),
                (',', _) => (TokenKind.Comma, 1),
                ('.', _) => (TokenKind.Dot, 1),
                ('=', _) => throw new ExpressionException(start, "A single '=' is not a comparison; write '==' to compare."),
                _ => throw new ExpressionException(start, $"Unexpected character '{c}'."),
            };
            tokens.Add(new Token(kind, start));
            i += length;
        }
    }

    private static Token ReadNumber(string source, ref int i)
    {
        var start = i;
        while (i < source.Length && char.IsAsciiDigit(source[i]))
        {
            i++;
        }

        if (i + 1 < source.Length && source[i] == '.' && char.IsAsciiDigit(source[i + 1]))
        {
            i++;
            while (i < source.Length && char.IsAsciiDigit(source[i]))
            {
                i++;
            }
        }

        if (i < source.Length && char.IsAsciiLetter(source[i]))
        {
            // A unit follows: a duration literal such as 5m, 500ms or 1h30m.
            while (i < source.Length && (char.IsAsciiLetterOrDigit(source[i]) || source[i] == '.'))
            {
                i++;
            }

            if (!Durations.TryParse(source.AsSpan(start, i - start), out var duration))
            {
                throw new ExpressionException(start,
                    $"'{source[start..i]}' is not a number or a duration; durations use the units ms, s, m, h, d (e.g. 30s, 5m, 1h30m).");
            }

            return new Token(TokenKind.Duration, start, Number: (decimal)duration.TotalSeconds);
        }

        if (!decimal.TryParse(source.AsSpan(start, i - start), NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out var number))
        {
            throw new ExpressionException(start, $"The number '{source[start..i]}' is too large.");
        }

        return new Token(TokenKind.Number, start, Number: number);
    }

    private static Token ReadString(string source, ref int i)
    {
        var start = i;
        var quote = source[i++];
        var sb = new StringBuilder();
        while (true)
        {
            if (i >= source.Length)
            {
                throw new ExpressionException(start, $"The text starting here is never closed; end it with {quote}.");
            }

            var c = source[i++];
            if (c == quote)
            {
                return new Token(TokenKind.Text, start, sb.ToString());
            }

            if (c != '\\')
            {
                sb.Append(c);
                continue;
            }

            if (i >= source.Length)
            {
                throw new ExpressionException(i - 1, "A backslash must be followed by the character it escapes.");
            }

            var escaped = source[i++];
            sb.Append(escaped switch
            {
                'n' => '\n',
                't' => '\t',
                '\\' or '"' or '\'' => escaped,
                // Regex escapes such as \d pass through untouched, so patterns read as they do elsewhere.
                _ => '\\',
            });
            if (escaped is not ('n' or 't' or '\\' or '"' or '\''))
            {
                sb.Append(escaped);
            }
        }
    }
}
