# made by p4 sweep; run with: gnuplot docs/results/attack-femnist-scaled-mean/sweep.gp
set datafile separator ','
set key center right
set title 'docs/results/attack-femnist-scaled-mean/config.ini'
set grid
set xlabel 'fraction of malicious clients'
set ylabel 'honest clients: mean personalised test accuracy'
set terminal png size 800,520
set output 'docs/results/attack-femnist-scaled-mean/sweep.png'
plot 'docs/results/attack-femnist-scaled-mean/summary.csv' using ((strcol(1) eq 'p4' && strcol(2) eq '8') ? $3 : NaN):6:10 skip 1 with yerrorlines title 'p4, epsilon 8'
set terminal svg size 800,520
set output 'docs/results/attack-femnist-scaled-mean/sweep.svg'
plot 'docs/results/attack-femnist-scaled-mean/summary.csv' using ((strcol(1) eq 'p4' && strcol(2) eq '8') ? $3 : NaN):6:10 skip 1 with yerrorlines title 'p4, epsilon 8'
