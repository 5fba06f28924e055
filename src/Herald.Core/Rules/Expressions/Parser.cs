namespace Herald.Core.Rules.Expressions;

/// <summary>
/// A Pratt parser for rule conditions. Precedence, loosest first: <c>or</c>, <c>and</c>, <c>not</c>, comparisons and
/// <c>in</c> (not chainable), <c>+ -</c>, <c>* /</c>, unary minus. Length and nesting are capped here so that every
/// later stage (binding, evaluation) is bounded by construction.
/// </summary>
internal sealed class Parser
{
    public const int MaxLength = 2_000;
    public const int MaxDepth = 64;

    private const int OrPrecedence = 1;
    private const int AndPrecedence = 2;
    private const int NotPrecedence = 3;
    private const int ComparisonPrecedence = 4;
    private const int AdditivePrecedence = 5;
    private const int MultiplicativePrecedence = 6;
    private const int UnaryPrecedence = 7;

    private readonly List<Token> _tokens;
    private int _index;
    private int _depth;

    private Parser(List<Token> tokens) => _tokens = tokens;

    public static Syntax Parse(string source)
    {
        if (source.Length > MaxLength)
        {
            throw new ExpressionException(MaxLength, $"The condition is {source.Length} characters long; the limit is {MaxLength}. Split it over several rules.");
        }

        var parser = new Parser(Lexer.Tokenize(source));
        var syntax = parser.ParseExpression(0);
        if (parser.Current.Kind != TokenKind.End)
        {
            throw new ExpressionException(parser.Current.Position, $"Unexpected {Describe(parser.Current)} after a complete condition; did you forget 'and' or 'or'?");
        }

        return syntax;
    }

    private Token Current => _tokens[_index];

    private Token Peek(int ahead = 1) => _tokens[Math.Min(_index + ahead, _tokens.Count - 1)];

    private Token Advance() => _tokens[_index++];

    private Syntax ParseExpression(int minPrecedence)
    {
        if (++_depth > MaxDepth)
        {
            throw new ExpressionException(Current.Position, $"The condition nests deeper than {MaxDepth} levels; simplify it or split it over several rules.");
        }

        var left = ParsePrefix();
        var comparisons = 0;
        while (true)
        {
            var token = Current;
            var negatedIn = token.Kind == TokenKind.Not && Peek().Kind == TokenKind.In;
            var precedence = negatedIn ? ComparisonPrecedence : InfixPrecedence(token.Kind);
            if (precedence <= minPrecedence)
            {
                break;
            }

            if (precedence == ComparisonPrecedence && ++comparisons > 1)
            {
                throw new ExpressionException(token.Position, "Comparisons cannot be chained; join them with 'and', e.g. 'a > 1 and a < 5'.");
            }

            Advance();
            if (negatedIn || token.Kind == TokenKind.In)
            {
                if (negatedIn)
                {
                    Advance();
                }

                left = new InSyntax(token.Position, left, ParseList(), negatedIn);
                continue;
            }

            var right = ParseExpression(precedence);
            left = new BinarySyntax(token.Position, token.Kind, left, right);
        }

        _depth--;
        return left;
    }

    private static int InfixPrecedence(TokenKind kind) => kind switch
    {
        TokenKind.Or => OrPrecedence,
        TokenKind.And => AndPrecedence,
        TokenKind.Eq or TokenKind.Ne or TokenKind.Lt or TokenKind.Le or TokenKind.Gt or TokenKind.Ge or TokenKind.In => ComparisonPrecedence,
        TokenKind.Plus or TokenKind.Minus => AdditivePrecedence,
        TokenKind.Star or TokenKind.Slash => MultiplicativePrecedence,
        _ => 0,
    };

    private Syntax ParsePrefix()
    {
        var token = Advance();
        switch (token.Kind)
        {
            case TokenKind.Number:
                return new LiteralSyntax(token.Position, Value.Of(token.Number));
            case TokenKind.Duration:
                return new LiteralSyntax(token.Position, Value.OfDuration(token.Number));
            case TokenKind.Text:
                return new LiteralSyntax(token.Position, Value.Of(token.Text));
            case TokenKind.True:
                return new LiteralSyntax(token.Position, Value.True);
            case TokenKind.False:
                return new LiteralSyntax(token.Position, Value.False);
            case TokenKind.Null:
                return new LiteralSyntax(token.Position, Value.Null);
            case TokenKind.Not:
                return new UnarySyntax(token.Position, TokenKind.Not, ParseExpression(NotPrecedence - 1));
            case TokenKind.Minus:
                return new UnarySyntax(token.Position, TokenKind.Minus, ParseExpression(UnaryPrecedence - 1));
            case TokenKind.LParen:
                var inner = ParseExpression(0);
                Expect(TokenKind.RParen, "')' to close the '(' at " + token.Position);
                return inner;
            case TokenKind.Identifier when Current.Kind == TokenKind.LParen:
                return ParseCall(token);
            case TokenKind.Identifier:
                return ParsePath(token);
            case TokenKind.LBracket:
                throw new ExpressionException(token.Position, "A list [..] may only follow 'in', e.g. data.country in [\"DE\", \"AT\"].");
            case TokenKind.End:
                throw new ExpressionException(token.Position, "The condition ends too early; a value is missing here.");
            default:
                throw new ExpressionException(token.Position, $"Expected a value, a path or '(' but found {Describe(token)}.");
        }
    }

    private CallSyntax ParseCall(Token name)
    {
        Advance();
        var arguments = new List<Syntax>();
        if (Current.Kind != TokenKind.RParen)
        {
            do
            {
                arguments.Add(ParseExpression(0));
            }
            while (Current.Kind == TokenKind.Comma && Advance().Kind == TokenKind.Comma);
        }

        Expect(TokenKind.RParen, $"')' to close the call to {name.Text}");
        return new CallSyntax(name.Position, name.Text!, arguments);
    }

    private PathSyntax ParsePath(Token first)
    {
        var segments = new List<string> { first.Text! };
        var positions = new List<int> { first.Position };
        while (Current.Kind == TokenKind.Dot)
        {
            Advance();
            var segment = Advance();
            // Keywords are fine as field names after a dot: data.in, data.null.
            var text = segment.Kind switch
            {
                TokenKind.Identifier => segment.Text,
                TokenKind.And => "and",
                TokenKind.Or => "or",
                TokenKind.Not => "not",
                TokenKind.In => "in",
                TokenKind.True => "true",
                TokenKind.False => "false",
                TokenKind.Null => "null",
                _ => throw new ExpressionException(segment.Position, $"Expected a field name after '.', found {Describe(segment)}."),
            };
            segments.Add(text!);
            positions.Add(segment.Position);
        }

        return new PathSyntax(first.Position, [.. segments], [.. positions]);
    }

    private List<LiteralSyntax> ParseList()
    {
        var open = Expect(TokenKind.LBracket, "'[' to start the list after 'in'");
        var items = new List<LiteralSyntax>();
        if (Current.Kind != TokenKind.RBracket)
        {
            do
            {
                var negative = Current.Kind == TokenKind.Minus ? Advance() : (Token?)null;
                var item = ParsePrefix();
                if (item is not LiteralSyntax literal || (negative is not null && literal.Value.Kind != ValueKind.Number))
                {
                    throw new ExpressionException(item.Position, "A list after 'in' holds only fixed values (text, numbers, durations, true, false, null).");
                }

                items.Add(negative is { } minus ? new LiteralSyntax(minus.Position, Value.Of(-literal.Value.Number)) : literal);
            }
            while (Current.Kind == TokenKind.Comma && Advance().Kind == TokenKind.Comma);
        }

        Expect(TokenKind.RBracket, $"']' to close the list opened at {open.Position}");
        return items;
    }

    private Token Expect(TokenKind kind, string what)
    {
        if (Current.Kind != kind)
        {
            throw new ExpressionException(Current.Position, $"Expected {what}, found {Describe(Current)}.");
        }

        return Advance();
    }

    private static string Describe(Token token) => token.Kind switch
    {
        TokenKind.End => "the end of the condition",
        TokenKind.Identifier => $"'{token.Text}'",
        TokenKind.Text => $"the text \"{token.Text}\"",
        TokenKind.Number or TokenKind.Duration => "a number",
        _ => $"'{Symbol(token.Kind)}'",
    };

    private static string Symbol(TokenKind kind) => kind switch
    {
        TokenKind.And => "and",
        TokenKind.Or => "or",
        TokenKind.Not => "not",
        TokenKind.In => "in",
        TokenKind.True => "true",
        TokenKind.False => "false",
        TokenKind.Null => "null",
        TokenKind.Eq => "==",
        TokenKind.Ne => "!=",
        TokenKind.Lt => "<",
        TokenKind.Le => "<=",
        TokenKind.Gt => ">",
        TokenKind.Ge => ">=",
        TokenKind.Plus => "+",
        TokenKind.Minus => "-",
        TokenKind.Star => "*",
        TokenKind.Slash => "/",
        TokenKind.LParen => "(",
        TokenKind.RParen => ")",
        TokenKind.LBracket => "[",
        TokenKind.RBracket => "]",
        TokenKind.Comma => ",",
        _ => ".",
    };

    internal static string SymbolOf(TokenKind kind) => Symbol(kind);
}
