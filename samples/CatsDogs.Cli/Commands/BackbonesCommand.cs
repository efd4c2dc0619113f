using System.CommandLine;
using System.Globalization;
using CatsDogs.Cli.Options;
using CatsDogs.ML;
using CatsDogs.ML.Backbones;
using Spectre.Console;

namespace CatsDogs.Cli.Commands;

/// <summary><c>catsdogs backbones</c>: the catalogue, and where each file is found.</summary>
internal static class BackbonesCommand
{
    public static Command Create(Cli cli)
    {
        var modelsDir = CommonOptions.ModelsDir();
        var catalogFile = CommonOptions.Catalog();
        var json = new Option<bool>("--json") { Description = "Print the catalogue as JSON (the format of models/backbones.json and of --catalog files)." };
        var command = new Command("backbones", "List the backbone catalogue and whether each file is found.") { modelsDir, catalogFile, json };
        cli.SetAction(command, (parse, _) =>
        {
            var catalog = parse.GetValue(catalogFile) is { } file ? BackboneCatalog.Default.WithFile(file) : BackboneCatalog.Default;
            if (parse.GetValue(json))
            {
                cli.Output.Write(BackboneCatalogJson.Serialize(catalog.All));
                return 0;
            }

            var table = new Table().AddColumns("name", "input", "preprocessing", "features", "file");
            foreach (var spec in catalog.All)
            {
                string where;
                try
                {
                    where = BackboneCatalog.LocateFile(spec, parse.GetValue(modelsDir));
                }
                catch (BackboneFileNotFoundException)
                {
                    where = "missing: " + spec.FileName;
                }

                var p = spec.Preprocessing;
                table.AddRow(
                    spec.Name,
                    $"{p.Layout} {p.Width}×{p.Height} {p.ChannelOrder}",
                    $"{p.Normalization.Kind}, {p.Resize}",
                    spec.FeatureDimension.ToString(CultureInfo.InvariantCulture),
                    Markup.Escape(where));
            }

            cli.Console().Write(table);
            return 0;
        });
        return command;
    }
}
