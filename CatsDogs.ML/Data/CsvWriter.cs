using System.Globalization;
using System.Text;

namespace CatsDogs.ML.Data;

/// <summary>
/// The library's one CSV writer (RFC 4180): a field is quoted when it holds a comma, quote, line break or starts
/// like a spreadsheet formula (<c>= + - @</c>), quotes are doubled, numbers are culture-invariant, lines end in
/// <c>\n</c>. Fields are written as they are, so a path survives the round trip.
/// </summary>
internal sealed class CsvWriter
{
    private readonly StringBuilder _text = new();

    /// <summary>Starts a CSV with a header row.</summary>
    public CsvWriter(params string[] header) => Row(header);

    /// <summary>Appends one row.</summary>
    public CsvWriter Row(params object?[] fields)
    {
        for (var i = 0; i < fields.Length; i++)
        {
            if (i > 0)
            {
                _text.Append(',');
            }

            _text.Append(Field(fields[i] switch
            {
                null => "",
                float f => f.ToString("0.######", CultureInfo.InvariantCulture),
                double d => d.ToString("0.######", CultureInfo.InvariantCulture),
                IFormattable x => x.ToString(null, CultureInfo.InvariantCulture),
                var other => other.ToString() ?? "",
            }));
        }

        _text.Append('\n');
        return this;
    }

    /// <summary>The CSV text.</summary>
    public override string ToString() => _text.ToString();

    /// <summary>One field, quoted when needed.</summary>
    public static string Field(string text) =>
        text.IndexOfAny([',', '"', '\n', '\r']) >= 0 || (text.Length > 0 && text[0] is '=' or '+' or '-' or '@')
            ? "\"" + text.Replace("\"", "\"\"", StringComparison.Ordinal) + "\""
            : text;
}
